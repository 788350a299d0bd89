// Where a named dataset's files are, and fetching the missing ones: local directories first, then
// `<dataDir>/<name>/`, else a download through @streams/downloader (size and sha256 checked,
// retried and resumed by the fetch engine, landed atomically), with progress on stderr.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { formatBytes, isAbortError, isStreamsError, StreamsError, settings } from '@streams/core';
import {
  createFetchEngine,
  type FetchEngine,
  getDriver,
  type HttpCredentials,
  httpDriver,
} from '@streams/downloader';
import type { DatasetLoadOptions, DatasetSpec, FileVersion, RemoteFile } from './datasetSpec.js';

/** The directory a dataset's files are materialized in: `<dataDir>/<name>`. */
export function datasetDir(name: string, dataDir?: string): string {
  return join(dataDir ?? settings().dataDir, name);
}

/** The files of a spec for these options. */
export function specFiles<O>(spec: DatasetSpec<O>, options?: O): readonly RemoteFile[] {
  return typeof spec.files === 'function' ? spec.files(options) : (spec.files ?? []);
}

const versions = (f: RemoteFile): FileVersion[] => [f, ...(f.alternatives ?? [])];

/** A local copy of `file` in `dir` whose size is one of the accepted versions, if any. */
function localCopy(dir: string, file: RemoteFile): string | undefined {
  const path = join(dir, file.name);
  if (!existsSync(path)) return undefined;
  const size = statSync(path).size;
  return versions(file).some((v) => v.size === size) ? path : undefined;
}

/** Paths of every file found locally (searched dirs, then the data dir), and the missing ones. */
export function findLocalFiles<O>(
  name: string,
  spec: DatasetSpec<O>,
  options: (O & DatasetLoadOptions) | undefined,
): { paths: Record<string, string>; missing: RemoteFile[]; dir: string } {
  const dir = datasetDir(name, options?.dataDir);
  const system = options?.systemDirs === false ? [] : (spec.localDirs?.(options) ?? []);
  const dirs = [...system, dir];
  const paths: Record<string, string> = {};
  const missing: RemoteFile[] = [];
  for (const file of specFiles(spec, options)) {
    let found: string | undefined;
    for (const d of dirs) {
      found = localCopy(d, file);
      if (found) break;
    }
    if (found) paths[file.name] = found;
    else missing.push(file);
  }
  return { paths, missing, dir };
}

/** The URL of `file`: absolute as given, else under the base URL (option, mirror, entry). */
export function fileUrl<O>(
  name: string,
  spec: DatasetSpec<O>,
  file: RemoteFile,
  options?: DatasetLoadOptions,
): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(file.url)) return file.url;
  const mirror = process.env.STREAMS_DATASETS_MIRROR;
  const base =
    options?.baseUrl ??
    (mirror ? `${mirror.replace(/\/+$/, '')}/${name}/` : undefined) ??
    spec.baseUrl;
  if (!base) {
    throw new StreamsError(
      'STREAMS_INVALID_CONFIG',
      `[streams/multistream] dataset ${name}: file ${file.name} has a relative URL and no base URL`,
      { fix: 'give the entry a baseUrl, or pass baseUrl' },
    );
  }
  return new URL(file.url, base.endsWith('/') ? base : `${base}/`).href;
}

/** Kaggle API credentials from `KAGGLE_USERNAME`/`KAGGLE_KEY`, else `kaggle.json` where the Kaggle CLI looks. */
export async function kaggleCredentials(
  env: Record<string, string | undefined> = process.env,
): Promise<{ username: string; password: string }> {
  if (env.KAGGLE_USERNAME && env.KAGGLE_KEY)
    return { username: env.KAGGLE_USERNAME, password: env.KAGGLE_KEY };
  const home = env.HOME || homedir();
  const candidates = env.KAGGLE_CONFIG_DIR
    ? [join(env.KAGGLE_CONFIG_DIR, 'kaggle.json')]
    : [
        join(env.XDG_CONFIG_HOME || join(home, '.config'), 'kaggle', 'kaggle.json'),
        join(home, '.kaggle', 'kaggle.json'),
      ];
  for (const path of candidates) {
    if (!existsSync(path)) continue;
    let parsed: { username?: unknown; key?: unknown };
    try {
      parsed = JSON.parse(await readFile(path, 'utf8')) as typeof parsed;
    } catch (cause) {
      // The cause (a JSON parse error) may quote the file's text: keep only its kind.
      throw new StreamsError(
        'STREAMS_INVALID_CONFIG',
        `[streams/multistream] ${path} is not valid JSON (${(cause as Error).name})`,
        { fix: 'download a fresh kaggle.json from your Kaggle account settings' },
      );
    }
    if (typeof parsed.username === 'string' && typeof parsed.key === 'string')
      return { username: parsed.username, password: parsed.key };
    throw new StreamsError(
      'STREAMS_INVALID_CONFIG',
      `[streams/multistream] ${path} has no "username" and "key"`,
      { fix: 'download a fresh kaggle.json from your Kaggle account settings' },
    );
  }
  throw new StreamsError(
    'STREAMS_FORBIDDEN',
    '[streams/multistream] this dataset is served by Kaggle and no Kaggle credentials were found',
    {
      fix: `set KAGGLE_USERNAME and KAGGLE_KEY, or put kaggle.json in ${candidates.join(' or ')}`,
    },
  );
}

/** An engine whose HTTP driver reads credentials now (STREAMS_HTTP_CREDENTIALS, plus Kaggle's). */
async function datasetEngine<O>(
  spec: DatasetSpec<O>,
  urls: string[],
  options: DatasetLoadOptions | undefined,
): Promise<FetchEngine> {
  const credentials: Record<string, HttpCredentials> = {};
  if (spec.auth === 'kaggle') {
    const basic = await kaggleCredentials();
    for (const u of urls) credentials[new URL(u).host] = { basic };
  }
  const http = httpDriver({ credentials });
  return createFetchEngine({
    ...options?.fetchOptions,
    driverFor: (url) => (/^https?:/i.test(url) ? http : getDriver(url)),
  });
}

/**
 * Makes sure every file of the dataset is on disk and returns their paths by name: found
 * locally, or downloaded into `<dataDir>/<name>/` (unless `download: false`).
 */
export async function ensureDatasetFiles<O>(
  name: string,
  spec: DatasetSpec<O>,
  options: (O & DatasetLoadOptions) | undefined,
): Promise<Record<string, string>> {
  const { paths, missing, dir } = findLocalFiles(name, spec, options);
  if (missing.length === 0) return paths;
  const urls = missing.map((f) => fileUrl(name, spec, f, options));
  const fix = `download ${missing.map((f, i) => `${urls[i]} as ${f.name}`).join(', ')} into ${dir} (or set dataDir/STREAMS_DATA_DIR to where they are, or baseUrl/STREAMS_DATASETS_MIRROR to a mirror)`;
  if (options?.download === false) {
    throw new StreamsError(
      'STREAMS_DATASET_UNAVAILABLE',
      `[streams/multistream] dataset ${name}: ${missing.map((f) => f.name).join(', ')} not found and download is off`,
      { fix },
    );
  }
  const engine = await datasetEngine(spec, urls, options);
  const out = options?.progress === false ? undefined : (options?.progress ?? process.stderr);
  for (const [i, file] of missing.entries()) {
    const url = urls[i]!;
    const dest = join(dir, file.name);
    const single = !file.alternatives?.length;
    const progress = out && startProgress(out, engine, `${name}: ${file.name}`, file.size);
    try {
      const result = await engine.download(url, dest, {
        signal: options?.signal,
        // With several accepted versions the size and digest are checked after landing.
        size: single ? file.size : undefined,
        hash: single ? `sha256:${file.sha256}` : undefined,
      });
      if (!single) await checkVersions(dest, file, url);
      progress?.done(result.size);
    } catch (cause) {
      progress?.stop();
      if (isAbortError(cause)) throw cause;
      throw new StreamsError(
        isStreamsError(cause, 'STREAMS_HASH_MISMATCH') || isStreamsError(cause, 'STREAMS_FORBIDDEN')
          ? cause.code
          : 'STREAMS_DATASET_UNAVAILABLE',
        `[streams/multistream] dataset ${name}: cannot download ${file.name}`,
        { cause, url, fix },
      );
    }
    paths[file.name] = dest;
  }
  return paths;
}

/** Checks a landed file against every accepted version; a mismatch removes it. */
async function checkVersions(path: string, file: RemoteFile, url: string): Promise<void> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  const digest = hash.digest('hex');
  const size = statSync(path).size;
  if (versions(file).some((v) => v.sha256 === digest && v.size === size)) return;
  await rm(path, { force: true });
  throw new StreamsError(
    'STREAMS_HASH_MISMATCH',
    `[streams/multistream] ${file.name}: sha256 ${digest} (${size} bytes) matches no accepted version (${versions(
      file,
    )
      .map((v) => v.sha256)
      .join(', ')})`,
    { url, fix: 'the source serves other bytes: check the URL or mirror' },
  );
}

/** Progress of one download on a stream: a live line on a TTY, start and end lines elsewhere. */
function startProgress(
  out: NodeJS.WritableStream & { isTTY?: boolean },
  engine: FetchEngine,
  label: string,
  size: number,
): { done(bytes: number): void; stop(): void } {
  const start = engine.counters.bytes;
  const t0 = Date.now();
  const line = () => {
    const got = engine.counters.bytes - start;
    const secs = Math.max((Date.now() - t0) / 1000, 1e-3);
    const pct = size > 0 ? ` ${Math.min(100, Math.floor((100 * got) / size))}%` : '';
    return `[streams] ${label}${pct} ${formatBytes(got)} / ${formatBytes(size)} (${formatBytes(got / secs)}/s)`;
  };
  if (!out.isTTY) out.write(`[streams] ${label}: downloading ${formatBytes(size)}\n`);
  const timer = out.isTTY ? setInterval(() => out.write(`\r${line()}\x1b[K`), 250) : undefined;
  timer?.unref();
  return {
    done(bytes) {
      if (timer) clearInterval(timer);
      const secs = Math.max((Date.now() - t0) / 1000, 1e-3);
      const end = `[streams] ${label}: ${formatBytes(bytes)} in ${secs.toFixed(1)} s (${formatBytes(bytes / secs)}/s)`;
      out.write(out.isTTY ? `\r${end}\x1b[K\n` : `${end}\n`);
    },
    stop() {
      if (timer) clearInterval(timer);
      if (out.isTTY) out.write('\n');
    },
  };
}
