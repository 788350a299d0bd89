// Local files as a ByteSource: positional reads through kept handles (synchronous for small ones),
// listings, walks and streams.
import { closeSync, openSync, readSync } from 'node:fs';
import { type FileHandle, open, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isStreamsError, StreamsError, throwIfAborted } from '@streams/core';
import type { ByteSource, Fetched, FetchOptions, PinnedFile, ReadOptions } from './byteSource.js';
import { toLocalPath } from './urls.js';

function notFound(url: string, cause: unknown): StreamsError {
  return new StreamsError('STREAMS_NOT_FOUND', `[streams/index] ${url} does not exist`, {
    url,
    cause,
    fix: 'check the path or URL',
  });
}

/**
 * Bytes of the slab small synchronous reads share: Node's own `Buffer.poolSize`, so a sample kept
 * alone keeps at most 8 KiB alive, as a pooled Buffer would.
 */
const SLAB_BYTES = 8 * 1024;

/** Local files: positional reads through a small pool of open handles. */
export class LocalByteSource implements ByteSource {
  readonly #handles = new Map<string, Promise<FileHandle>>();
  /** Descriptors of synchronous reads, by URL, least recently used first (at most maxHandles). */
  readonly #fds = new Map<string, number>();
  #slab = new ArrayBuffer(0);
  #slabUsed = SLAB_BYTES;
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

  async version(url: string, options: ReadOptions = {}): Promise<string> {
    throwIfAborted(options.signal);
    try {
      const st = await stat(toLocalPath(url));
      // Milliseconds: what copies and `touch` keep (a file rewritten within the same millisecond
      // to the same size is taken as unchanged; a load still checks its sample count).
      return `${st.size}:${Math.trunc(st.mtimeMs)}`;
    } catch (e) {
      throw notFound(url, e);
    }
  }

  async read(url: string, options: ReadOptions = {}): Promise<Uint8Array> {
    throwIfAborted(options.signal);
    try {
      // One read of the whole file: cheaper than a pooled handle's stat and positional read.
      const b = await readFile(toLocalPath(url), { signal: options.signal });
      return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    } catch (e) {
      if (isStreamsError(e) || (e as Error)?.name === 'AbortError') throw e;
      throw notFound(url, e);
    }
  }

  async fetch(url: string, options: FetchOptions = {}): Promise<Fetched> {
    return { bytes: await this.read(url, options), hit: true, hashChecked: false };
  }

  async pin(url: string): Promise<PinnedFile> {
    return { path: toLocalPath(url), hit: true, release: async () => {} };
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

  readRangeSync(url: string, start: number, end: number): Uint8Array {
    if (end <= start) return new Uint8Array(0);
    const fd = this.#fd(url);
    const length = end - start;
    const buf = this.#alloc(length);
    let done = 0;
    while (done < length) {
      const n = readSync(fd, buf, done, length - done, start + done);
      if (n === 0) break;
      done += n;
    }
    return done === length ? buf : filled(buf, done);
  }

  /** Closes the handles kept open on one file (a cache entry let go must not stay open). */
  async forget(url: string): Promise<void> {
    const fd = this.#fds.get(url);
    if (fd !== undefined) {
      this.#fds.delete(url);
      closeSync(fd);
    }
    const path = toLocalPath(url);
    const h = this.#handles.get(path);
    if (h) {
      this.#handles.delete(path);
      await h.then((f) => f.close()).catch(() => undefined);
    }
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
      const buf = uninitialized(chunk);
      const { bytesRead } = await fh.read(buf, 0, chunk, pos);
      if (bytesRead === 0) return;
      pos += bytesRead;
      yield bytesRead === chunk ? buf : filled(buf, bytesRead);
    }
  }

  async close(): Promise<void> {
    for (const fd of this.#fds.values()) closeSync(fd);
    this.#fds.clear();
    const all = [...this.#handles.values()];
    this.#handles.clear();
    await Promise.all(all.map(async (p) => (await p.catch(() => undefined))?.close()));
  }

  async #readAt(fh: FileHandle, position: number, length: number): Promise<Uint8Array> {
    const buf = uninitialized(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await fh.read(buf, done, length - done, position + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done === length ? buf : filled(buf, done);
  }

  /**
   * A buffer for a synchronous read: small ones are views into a shared slab (a new backing store
   * per 100-byte read costs more than the read), so a kept sample pins at most one slab.
   */
  #alloc(length: number): Uint8Array {
    if (length > SLAB_BYTES / 8) return uninitialized(length);
    if (this.#slabUsed + length > SLAB_BYTES) {
      this.#slab = new ArrayBuffer(SLAB_BYTES);
      this.#slabUsed = 0;
    }
    const buf = new Uint8Array(this.#slab, this.#slabUsed, length);
    // 8-byte aligned, so typed views of what is read stay possible.
    this.#slabUsed += (length + 7) & ~7;
    return buf;
  }

  // Keyed by the URL as given (not its resolved path): resolving costs as much as the read.
  #fd(url: string): number {
    let fd = this.#fds.get(url);
    if (fd !== undefined) {
      // LRU: move to the back.
      this.#fds.delete(url);
      this.#fds.set(url, fd);
      return fd;
    }
    try {
      fd = openSync(toLocalPath(url), 'r');
    } catch (e) {
      throw notFound(url, e);
    }
    this.#fds.set(url, fd);
    if (this.#fds.size > this.#maxHandles) {
      const [oldest, old] = this.#fds.entries().next().value as [string, number];
      this.#fds.delete(oldest);
      closeSync(old);
    }
    return fd;
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

/**
 * A buffer of `length` bytes that is about to be filled by a read, not zeroed first: zeroing a
 * large buffer on the main thread costs as much as the read (it is the first touch of its pages),
 * where the read itself touches them on the thread pool. A short read goes through `filled`.
 */
function uninitialized(length: number): Uint8Array {
  if (length < 4096) return new Uint8Array(length);
  const b = Buffer.allocUnsafeSlow(length);
  return new Uint8Array(b.buffer, b.byteOffset, length);
}

/**
 * The first `n` bytes of a read buffer that was not filled: the rest is zeroed, so no earlier
 * memory of the process stays reachable through the view's `buffer`.
 */
function filled(buf: Uint8Array, n: number): Uint8Array {
  buf.fill(0, n);
  return buf.subarray(0, n);
}
