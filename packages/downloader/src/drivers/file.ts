import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { throwIfAborted } from '@streams/core';
import {
  byUrl,
  checkRange,
  type Driver,
  emptyBody,
  existsByStat,
  type ListEntry,
  makeBody,
  type ObjectBody,
  type ObjectStat,
  type OperationOptions,
  type PutBody,
  type PutOptions,
  TransferError,
} from '../driver.js';
import { parseObjectUrl } from '../objectUrl.js';

/** Driver name used in messages. */
export const NAME = 'file';

/** Options of {@link fileDriver}. */
export interface FileDriverOptions {
  /** Call fsync before an atomic `put` is renamed into place (default true). */
  fsync?: boolean;
}

/** Local files: `file:///abs/path` URLs and plain paths. `put` is atomic (temp file + rename). */
export function fileDriver(options: FileDriverOptions = {}): Driver {
  const doFsync = options.fsync ?? true;

  async function statPath(url: string, path: string): Promise<ObjectStat> {
    try {
      const s = await stat(path);
      if (!s.isFile()) throw notAFile(url);
      return {
        size: s.size,
        lastModified: s.mtime,
        etag: `${s.mtimeMs.toString(16)}-${s.size.toString(16)}`,
      };
    } catch (err) {
      throw fsError('stat', url, err);
    }
  }

  async function openRead(
    url: string,
    start: number,
    length: number | undefined,
    o: OperationOptions,
  ): Promise<ObjectBody> {
    throwIfAborted(o.signal);
    const path = toPath(url);
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(path, 'r');
    } catch (err) {
      throw fsError('get', url, err);
    }
    try {
      const s = await handle.stat();
      if (!s.isFile()) throw notAFile(url);
      if (length !== undefined && start + length > s.size)
        throw new TransferError(
          'STREAMS_INVALID_ARGUMENT',
          `[streams/downloader] [file] getRange ${url}: bytes ${start}..${start + length} are past the end (${s.size} bytes)`,
          { url, status: 416 },
        );
      const size = length ?? s.size;
      if (size === 0) {
        await handle.close();
        return emptyBody();
      }
      const stream = createReadStream('', {
        fd: handle,
        start,
        end: start + size - 1,
        highWaterMark: 1 << 20,
        signal: o.signal,
      });
      return makeBody(
        stream,
        size,
        () => {
          stream.destroy();
        },
        undefined,
        stream,
      );
    } catch (err) {
      await handle.close();
      throw err instanceof TransferError ? err : fsError('get', url, err);
    }
  }

  return {
    name: NAME,
    stat: (url) => statPath(url, toPath(url)),
    exists: (url) => existsByStat(() => statPath(url, toPath(url))),
    get: (url, o = {}) => openRead(url, 0, undefined, o),
    async getRange(url, offset, length, o = {}) {
      checkRange(NAME, url, offset, length);
      if (length === 0) {
        await statPath(url, toPath(url));
        return emptyBody();
      }
      return openRead(url, offset, length, o);
    },
    async list(prefix, o = {}) {
      const path = toPath(prefix);
      // "dir/" lists the directory; "dir/shard-" lists entries of dir starting with "shard-".
      const dir = prefix.endsWith('/') ? path : dirname(path);
      const start = prefix.endsWith('/') ? '' : basename(path);
      const out: ListEntry[] = [];
      await walk(dir, start, out, o.signal, prefix);
      out.sort(byUrl);
      return out;
    },
    async put(url, body, o = {}) {
      const path = toPath(url);
      await mkdir(dirname(path), { recursive: true });
      const tmp = join(
        dirname(path),
        `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2)}.part`,
      );
      try {
        await writeBody(tmp, body, o, doFsync);
        await rename(tmp, path);
      } catch (err) {
        await rm(tmp, { force: true });
        throw fsError('put', url, err);
      }
      return statPath(url, path);
    },
  };
}

async function writeBody(
  path: string,
  body: PutBody,
  o: PutOptions,
  doFsync: boolean,
): Promise<void> {
  const out = createWriteStream(path, { flags: 'wx' });
  const source = body instanceof Uint8Array ? [body] : body;
  await pipeline(source, out, { signal: o.signal });
  if (doFsync) {
    const fh = await open(path, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
}

async function walk(
  dir: string,
  start: string,
  out: ListEntry[],
  signal: AbortSignal | undefined,
  prefix: string,
): Promise<void> {
  throwIfAborted(signal);
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    const code = (err as { code?: string }).code;
    // A prefix that matches nothing is an empty listing, not an error.
    if (code === 'ENOENT' || code === 'ENOTDIR') return;
    throw fsError('list', prefix, err);
  }
  const files: string[] = [];
  for (const e of entries) {
    if (start && !e.name.startsWith(start)) continue;
    const full = join(dir, e.name);
    if (e.isDirectory()) await walk(full, '', out, signal, prefix);
    else if (e.isFile() || e.isSymbolicLink()) files.push(full);
  }
  // stat in batches: a directory of 100k files should not take 100k sequential round trips.
  for (let i = 0; i < files.length; i += 64) {
    throwIfAborted(signal);
    const batch = files.slice(i, i + 64);
    const stats = await Promise.all(
      batch.map((full) =>
        stat(full).catch((err: unknown) => {
          // A file removed while listing is not part of the listing.
          if ((err as { code?: string }).code === 'ENOENT') return undefined;
          throw fsError('list', prefix, err);
        }),
      ),
    );
    batch.forEach((full, j) => {
      const s = stats[j];
      if (!s?.isFile()) return;
      out.push({
        url: pathToFileURL(full).href,
        key: full.replace(/^\//, ''),
        size: s.size,
        lastModified: s.mtime,
        etag: `${s.mtimeMs.toString(16)}-${s.size.toString(16)}`,
      });
    });
  }
}

/** The local path of a `file:` URL or plain path. */
export function toPath(url: string): string {
  return fileURLToPath(parseObjectUrl(url).url);
}

function notAFile(url: string): TransferError {
  return new TransferError(
    'STREAMS_NOT_FOUND',
    `[streams/downloader] [file] ${url} is not a regular file`,
    {
      url,
      fix: 'pass a file; list a directory with a trailing "/"',
    },
  );
}

function fsError(op: string, url: string, err: unknown): TransferError {
  if (err instanceof TransferError) return err;
  const code = (err as { code?: string }).code;
  const name = (err as { name?: string }).name;
  if (name === 'AbortError') throw err;
  const head = `[streams/downloader] [file] ${op} ${url} failed: ${code ?? (err as Error).message}`;
  if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR')
    return new TransferError('STREAMS_NOT_FOUND', head, { url, cause: err, fix: 'check the path' });
  if (code === 'EACCES' || code === 'EPERM')
    return new TransferError('STREAMS_FORBIDDEN', head, {
      url,
      cause: err,
      fix: 'check file permissions',
    });
  return new TransferError('STREAMS_NETWORK', head, {
    url,
    cause: err,
    retryable: code === 'EMFILE' || code === 'EAGAIN' || code === 'EIO',
  });
}
