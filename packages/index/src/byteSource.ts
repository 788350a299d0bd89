import { type FileHandle, open, readdir, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { StreamsError, throwIfAborted } from '@streams/core';

/** Options every read takes. */
export interface ReadOptions {
  signal?: AbortSignal;
}

/**
 * The seam between formats and storage: whole reads, range reads and listings of one location.
 * Local paths and `file:` URLs are served here; other schemes go through the downloader's drivers.
 */
export interface ByteSource {
  /** Size in bytes; `STREAMS_NOT_FOUND` when missing. */
  size(url: string, options?: ReadOptions): Promise<number>;
  /** The whole object. */
  read(url: string, options?: ReadOptions): Promise<Uint8Array>;
  /** Bytes `[start, end)`; fewer bytes than asked means the object is shorter. */
  readRange(url: string, start: number, end: number, options?: ReadOptions): Promise<Uint8Array>;
  /** Entries directly under a directory-like URL, as full URLs (or paths), sorted. */
  list(url: string, options?: ReadOptions): Promise<string[]>;
  /** Every file under a directory-like URL, recursively, sorted. */
  walk(url: string, options?: ReadOptions): Promise<string[]>;
  /** The whole object as a stream of chunks (for formats read front to back: tar, JSONL, CSV). */
  stream(url: string, options?: ReadOptions): AsyncIterable<Uint8Array>;
  /** Releases cached handles. */
  close(): Promise<void>;
}

const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;

/** True when `url` names a remote object (not a local path and not `file:`). */
export function isRemoteUrl(url: string): boolean {
  const m = SCHEME.exec(url);
  return m !== null && m[1]?.toLowerCase() !== 'file';
}

/** Local filesystem path of a path or `file:` URL. */
export function toLocalPath(url: string): string {
  if (!url.startsWith('file:')) return resolve(url);
  try {
    return fileURLToPath(parseUrl(url));
  } catch (cause) {
    if (cause instanceof StreamsError) throw cause;
    throw new StreamsError(
      'STREAMS_INVALID_URL',
      `[streams/index] ${url} is not a local file URL`,
      {
        cause,
        fix: 'write file: URLs as file:///absolute/path (no host)',
      },
    );
  }
}

/** Resolves `name` (relative path or absolute URL) against the directory `base`. */
export function joinUrl(base: string, name: string): string {
  if (SCHEME.test(name) || name.startsWith('file:')) return name;
  if (isRemoteUrl(base) || base.startsWith('file:')) {
    const dir = parseUrl(base.endsWith('/') ? base : `${base}/`);
    try {
      return new URL(name, dir).toString();
    } catch (cause) {
      throw new StreamsError(
        'STREAMS_INVALID_URL',
        `[streams/index] cannot resolve ${name} against ${base}`,
        {
          cause,
          fix: 'check the relative path',
        },
      );
    }
  }
  return isAbsolute(name) ? name : join(base, name);
}

/** Parses an absolute URL; an unparsable one (a port past 65535, a bad host) is `STREAMS_INVALID_URL`. */
export function parseUrl(url: string): URL {
  try {
    return new URL(url);
  } catch (cause) {
    throw new StreamsError('STREAMS_INVALID_URL', `[streams/index] cannot parse the URL ${url}`, {
      cause,
      fix: 'check the scheme, host and port (at most 65535) of the URL',
    });
  }
}

/** A local path or `file:` URL as a normalized `file:` URL, for prefix comparisons. */
function fileHref(pathOrUrl: string): string {
  return pathOrUrl.startsWith('file:')
    ? parseUrl(pathOrUrl).href
    : pathToFileURL(resolve(pathOrUrl)).href + (pathOrUrl.endsWith('/') ? '/' : '');
}

/**
 * Throws `STREAMS_UNSAFE_PATH` when `url`, named inside the index or list file `namedBy`, is a
 * local path or `file:` URL while `namedBy` is remote, unless it starts with one of the `allow`
 * prefixes: a remote index may name remote URLs (of any host) but cannot make a reader open local
 * files. Local indexes may name anything.
 */
export function checkNamedUrl(
  url: string,
  namedBy: string,
  allow: readonly string[] = [],
  where = '',
): void {
  if (!isRemoteUrl(namedBy) || isRemoteUrl(url)) return;
  const href = fileHref(url);
  if (allow.some((prefix) => !isRemoteUrl(prefix) && href.startsWith(fileHref(prefix)))) return;
  throw new StreamsError(
    'STREAMS_UNSAFE_PATH',
    `[streams/index] ${where}names the local file ${url}, but the index is remote: it may name only remote URLs`,
    {
      url: namedBy,
      fix: 'if the index is trusted, pass allowUrls (streams: --allow-urls) with the local prefixes it may name, e.g. file:///data/images/',
    },
  );
}

/**
 * Why `name` could leave the directory it is joined to (by {@link joinUrl}, as a local path or a
 * relative URL), or undefined when it cannot: a scheme or drive letter, a leading slash or any
 * backslash, a `..` segment (also percent-encoded), or control characters (URL parsers drop them,
 * so `a/.\t./b` reads as `a/../b`).
 */
export function unsafeRelativePath(name: string): string | undefined {
  if (name === '') return 'is empty';
  if (/[\x00-\x1f\x7f]/.test(name) || name.trim() !== name)
    return 'has control characters or surrounding spaces';
  if (name.startsWith('/') || name.includes('\\')) return 'is absolute or has a backslash';
  if ((name.split('/')[0] ?? '').includes(':')) return 'names a scheme or drive';
  for (const segment of name.split('/')) {
    let decoded = segment;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      // not percent-encoded: the segment as written
    }
    if (segment === '..' || decoded === '..') return 'goes up with ".."';
  }
  return undefined;
}

/** The directory part of a path or URL. */
export function dirnameUrl(url: string): string {
  if (isRemoteUrl(url) || url.startsWith('file:')) {
    const u = parseUrl(url);
    u.pathname = u.pathname.replace(/[^/]*$/, '');
    u.search = '';
    return u.toString().replace(/\/$/, '');
  }
  return join(resolve(url), '..');
}

/** The last path segment of a path or URL. */
export function basenameUrl(url: string): string {
  const path = isRemoteUrl(url) ? parseUrl(url).pathname : url;
  return path.replace(/\/+$/, '').split('/').pop() ?? '';
}

function notFound(url: string, cause: unknown): StreamsError {
  return new StreamsError('STREAMS_NOT_FOUND', `[streams/index] ${url} does not exist`, {
    url,
    cause,
    fix: 'check the path or URL',
  });
}

/** Local files: positional reads through a small pool of open handles. */
export class LocalByteSource implements ByteSource {
  readonly #handles = new Map<string, Promise<FileHandle>>();
  readonly #maxHandles: number;

  constructor(options: { maxHandles?: number } = {}) {
    this.#maxHandles = options.maxHandles ?? 16;
  }

  async size(url: string, options: ReadOptions = {}): Promise<number> {
    throwIfAborted(options.signal);
    try {
      const st = await stat(toLocalPath(url));
      return st.size;
    } catch (e) {
      throw notFound(url, e);
    }
  }

  async read(url: string, options: ReadOptions = {}): Promise<Uint8Array> {
    throwIfAborted(options.signal);
    const fh = await this.#handle(url);
    const { size } = await fh.stat();
    return this.#readAt(fh, 0, size);
  }

  async readRange(
    url: string,
    start: number,
    end: number,
    options: ReadOptions = {},
  ): Promise<Uint8Array> {
    throwIfAborted(options.signal);
    if (end <= start) return new Uint8Array(0);
    return this.#readAt(await this.#handle(url), start, end - start);
  }

  async list(url: string, options: ReadOptions = {}): Promise<string[]> {
    throwIfAborted(options.signal);
    const dir = toLocalPath(url);
    try {
      const names = await readdir(dir);
      return names.sort().map((n) => join(dir, n));
    } catch (e) {
      throw notFound(url, e);
    }
  }

  async walk(url: string, options: ReadOptions = {}): Promise<string[]> {
    throwIfAborted(options.signal);
    const dir = toLocalPath(url);
    try {
      const entries = await readdir(dir, { recursive: true, withFileTypes: true });
      return (
        entries
          .filter((e) => e.isFile())
          // parentPath arrived in Node 20.12; `path` is its older name.
          .map((e) =>
            join(
              (e as { parentPath?: string; path?: string }).parentPath ??
                (e as { path?: string }).path ??
                dir,
              e.name,
            ),
          )
          .sort()
      );
    } catch (e) {
      throw notFound(url, e);
    }
  }

  async *stream(url: string, options: ReadOptions = {}): AsyncIterable<Uint8Array> {
    throwIfAborted(options.signal);
    const fh = await this.#handle(url);
    const chunk = 1 << 20;
    for (let pos = 0; ; ) {
      throwIfAborted(options.signal);
      const buf = new Uint8Array(chunk);
      const { bytesRead } = await fh.read(buf, 0, chunk, pos);
      if (bytesRead === 0) return;
      pos += bytesRead;
      yield bytesRead === chunk ? buf : buf.subarray(0, bytesRead);
    }
  }

  async close(): Promise<void> {
    const all = [...this.#handles.values()];
    this.#handles.clear();
    await Promise.all(all.map(async (p) => (await p.catch(() => undefined))?.close()));
  }

  async #readAt(fh: FileHandle, position: number, length: number): Promise<Uint8Array> {
    const buf = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await fh.read(buf, done, length - done, position + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done === length ? buf : buf.subarray(0, done);
  }

  #handle(url: string): Promise<FileHandle> {
    const path = toLocalPath(url);
    let h = this.#handles.get(path);
    if (h) {
      // LRU: move to the back.
      this.#handles.delete(path);
      this.#handles.set(path, h);
      return h;
    }
    h = open(path, 'r').catch((e) => {
      this.#handles.delete(path);
      throw notFound(url, e);
    });
    this.#handles.set(path, h);
    while (this.#handles.size > this.#maxHandles) {
      const [oldest, p] = this.#handles.entries().next().value as [string, Promise<FileHandle>];
      this.#handles.delete(oldest);
      void p.then((f) => f.close()).catch(() => undefined);
    }
    return h;
  }
}

/** What this package needs from a storage driver (adapted from `@streams/downloader`'s `Driver`). */
export interface RemoteDriver {
  stat(url: string, options?: ReadOptions): Promise<{ size: number }>;
  get(url: string, options?: ReadOptions): Promise<Uint8Array>;
  getRange(url: string, start: number, end: number, options?: ReadOptions): Promise<Uint8Array>;
  list(url: string, options?: ReadOptions): Promise<string[]>;
  walk(url: string, options?: ReadOptions): Promise<string[]>;
  stream(url: string, options?: ReadOptions): AsyncIterable<Uint8Array>;
  /** Writes an object (for writers whose output is remote). */
  put(url: string, data: Uint8Array, options?: ReadOptions): Promise<void>;
}

/** Finds a driver for a remote URL; swapped for tests or custom storage. */
export type DriverResolver = (url: string) => Promise<RemoteDriver>;

interface DownloaderBody extends AsyncIterable<Uint8Array> {
  bytes(): Promise<Uint8Array>;
  cancel(): Promise<void>;
}
interface DownloaderDriver {
  stat(url: string, o?: ReadOptions): Promise<{ size: number }>;
  get(url: string, o?: ReadOptions): Promise<DownloaderBody>;
  getRange(url: string, offset: number, length: number, o?: ReadOptions): Promise<DownloaderBody>;
  list(prefix: string, o?: ReadOptions): Promise<{ url: string }[]>;
  put(url: string, body: Uint8Array, o?: ReadOptions & { size?: number }): Promise<unknown>;
}

interface DownloaderEngine {
  stat(url: string, o?: ReadOptions): Promise<{ size: number }>;
  read(url: string, o?: ReadOptions & { offset?: number; length?: number }): Promise<Uint8Array>;
  list(prefix: string, o?: ReadOptions): Promise<{ url: string }[]>;
}

// A computed specifier keeps the downloader out of this package's type graph and off the load
// path of users who only read local files.
const DOWNLOADER = '@streams/downloader';

/** Resolves drivers from `@streams/downloader` (`getDriver(url)`), adapting its body streams. */
export const downloaderDrivers: DriverResolver = async (url) => {
  const mod = (await import(DOWNLOADER)) as Record<string, unknown>;
  const getDriver = mod.getDriver as ((u: string) => DownloaderDriver) | undefined;
  if (typeof getDriver !== 'function') {
    throw new StreamsError(
      'STREAMS_NOT_IMPLEMENTED',
      '[streams/index] remote URLs need @streams/downloader drivers, which this build lacks',
      { url, fix: 'download the dataset to a local directory and pass its path' },
    );
  }
  const d = getDriver(url);
  // Whole and range reads, stats and listings go through the fetch engine (retries, throttling,
  // per-host limits, stall detection); streams and uploads use the driver directly.
  const engine = (mod.defaultEngine as (() => DownloaderEngine) | undefined)?.();
  return {
    stat: (u, o) => (engine ? engine.stat(u, o) : d.stat(u, o)),
    get: async (u, o) => (engine ? engine.read(u, o) : (await d.get(u, o)).bytes()),
    getRange: async (u, start, end, o) =>
      engine
        ? engine.read(u, { ...o, offset: start, length: end - start })
        : (await d.getRange(u, start, end - start, o)).bytes(),
    stream: async function* (u, o) {
      const body = await d.get(u, o);
      let done = false;
      try {
        yield* body;
        done = true;
      } finally {
        // A reader that stops early (cat --limit) must release the connection.
        if (!done) await body.cancel().catch(() => undefined);
      }
    },
    list: async (u, o) => {
      const prefix = u.endsWith('/') ? u : `${u}/`;
      const entries = await (engine ?? d).list(prefix, o);
      // Direct children only, like a directory listing.
      const names = new Set<string>();
      for (const e of entries) {
        const rest = e.url.slice(prefix.length);
        const slash = rest.indexOf('/');
        names.add(prefix + (slash === -1 ? rest : rest.slice(0, slash)));
      }
      return [...names].sort();
    },
    put: async (u, data, o) => {
      await d.put(u, data, { ...o, size: data.length });
    },
    walk: async (u, o) => {
      const prefix = u.endsWith('/') ? u : `${u}/`;
      return (await (engine ?? d).list(prefix, o)).map((e) => e.url).sort();
    },
  };
};

/** Routes local paths to the filesystem and everything else to remote drivers. */
export class RoutingByteSource implements ByteSource {
  readonly local = new LocalByteSource();
  readonly #drivers: DriverResolver;

  constructor(drivers: DriverResolver = downloaderDrivers) {
    this.#drivers = drivers;
  }

  async size(url: string, options?: ReadOptions): Promise<number> {
    if (!isRemoteUrl(url)) return this.local.size(url, options);
    return (await (await this.#drivers(url)).stat(url, options)).size;
  }
  async read(url: string, options?: ReadOptions): Promise<Uint8Array> {
    if (!isRemoteUrl(url)) return this.local.read(url, options);
    return (await this.#drivers(url)).get(url, options);
  }
  async readRange(
    url: string,
    start: number,
    end: number,
    options?: ReadOptions,
  ): Promise<Uint8Array> {
    if (!isRemoteUrl(url)) return this.local.readRange(url, start, end, options);
    if (end <= start) return new Uint8Array(0);
    return (await this.#drivers(url)).getRange(url, start, end, options);
  }
  async list(url: string, options?: ReadOptions): Promise<string[]> {
    if (!isRemoteUrl(url)) return this.local.list(url, options);
    return (await (await this.#drivers(url)).list(url, options)).sort();
  }
  async walk(url: string, options?: ReadOptions): Promise<string[]> {
    if (!isRemoteUrl(url)) return this.local.walk(url, options);
    return (await this.#drivers(url)).walk(url, options);
  }
  async *stream(url: string, options?: ReadOptions): AsyncIterable<Uint8Array> {
    if (!isRemoteUrl(url)) yield* this.local.stream(url, options);
    else yield* (await this.#drivers(url)).stream(url, options);
  }
  close(): Promise<void> {
    return this.local.close();
  }
}

/** A `file:` URL for a local path (handy for tests and messages). */
export function fileUrl(path: string): string {
  return pathToFileURL(path).toString();
}
