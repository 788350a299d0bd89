// Local paths to the filesystem, everything else through `@streams/downloader` (its fetch engine
// and drivers), with an optional node cache for remote objects (held entries for range reads).
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { isStreamsError, StreamsError, throwIfAborted } from '@streams/core';
import {
  type CachedDownload,
  type CacheHandle,
  type DiskCache,
  type DownloadToCacheOptions,
  defaultEngine,
  downloadToCache,
  type ExpectedHash,
  type FetchEngine,
  getDriver,
  isHashAlgorithm,
} from '@streams/downloader';
import type {
  ByteSource,
  Fetched,
  FetchOptions,
  MemoStore,
  PinnedFile,
  ReadOptions,
} from './byteSource.js';
import { LocalByteSource } from './localByteSource.js';
import { basenameUrl, isRemoteUrl } from './urls.js';

/** Options of {@link RoutingByteSource}. */
export interface RoutingByteSourceOptions {
  /** Fetch engine of remote reads, stats and listings (default: the downloader's shared engine). */
  engine?: FetchEngine;
  /**
   * Node cache (`openCache` of `@streams/cache`): remote objects read whole ({@link ByteSource.fetch},
   * `read`, `stream`) land in it as entries keyed by URL, so a second read transfers nothing.
   */
  cache?: DiskCache;
}

/** The cache key of a remote object: a digest of its URL (no credentials on disk) and its file name. */
export function cacheKeyOf(url: string): string {
  const digest = createHash('sha256').update(url).digest('hex').slice(0, 32);
  const name =
    basenameUrl(url)
      .replace(/[^A-Za-z0-9._-]/g, '_')
      .slice(-80) || 'object';
  return `objects/${digest.slice(0, 2)}/${digest}/${name}`;
}

/**
 * Objects up to this size that a fetch downloads come back from the download itself rather than
 * from a read of their new cache entry (one copy on the main thread when the body came in several
 * chunks; larger objects are read back on the thread pool instead).
 */
const KEEP_BYTES = 4 << 20;

/**
 * Cached remote objects a routing source holds pinned for synchronous range reads: at most this
 * many (least recently read let go first)...
 */
const MAX_HELD = 16;
/** ...and at most this fraction of the cache's budget, so that the rest of it stays evictable. */
const HELD_BUDGET_SHARE = 1 / 4;

/** A cache entry pinned while range reads of its object go to its file. */
interface Held {
  readonly handle: CacheHandle;
  /** Async reads of the file under way: the pin is released only once none is. */
  readers: number;
  /** No longer held: released when its last reader is done. */
  dropped: boolean;
  /** When it was last read (a tick of its source): the least recent is let go first. */
  used: number;
}

/** A fill that never runs: asks the cache for an entry only if it is there. */
class NotCached extends Error {}
const notCached = async (): Promise<never> => {
  throw new NotCached();
};

/**
 * Routes local paths to the filesystem and everything else through `@streams/downloader`: whole
 * reads, range reads, stats and listings through its fetch engine (retries with backoff,
 * throttling, per-host limits, stall detection), streams and uploads through the driver of the
 * scheme. With a `cache`, whole reads of remote objects go through the node cache, and range
 * reads of a cached object go to its entry, which the source then holds (pinned, so never evicted
 * meanwhile) for further range reads, synchronous ones included, until `close` or until it is one
 * of the least recently read past a few (see {@link MAX_HELD}).
 */
export class RoutingByteSource implements ByteSource {
  readonly local = new LocalByteSource();
  readonly cache: DiskCache | undefined;
  readonly #engine: FetchEngine | undefined;
  /** Entries held for range reads, by URL. */
  readonly #held = new Map<string, Held>();
  #heldBytes = 0;
  #tick = 0;
  /** The files of held entries, with handles of their own (closed when an entry is let go). */
  readonly #heldFiles = new LocalByteSource({ maxHandles: MAX_HELD });
  #closed = false;

  /** Memos in the node cache, under `memo/` keys (absent without a cache). */
  readonly memo: MemoStore | undefined;

  constructor(options: RoutingByteSourceOptions = {}) {
    this.#engine = options.engine;
    this.cache = options.cache;
    const cache = this.cache;
    this.memo = cache && {
      get: async (key, o = {}) => {
        const h = await this.#entry(key, o.signal);
        if (!h) return undefined;
        try {
          return new Uint8Array(await readFile(h.path));
        } finally {
          await h.release();
        }
      },
      put: async (key, bytes, o = {}) => {
        // A memo is replaced whole: drop the old entry, then fill the new one.
        await cache.remove(key, { signal: o.signal });
        const h = await cache.acquire(
          key,
          async ({ tmpPath }) => {
            await writeFile(tmpPath, bytes);
          },
          { signal: o.signal },
        );
        await h.release();
      },
    };
  }

  /** The engine remote reads go through. */
  get engine(): FetchEngine {
    return this.#engine ?? defaultEngine();
  }

  async size(url: string, options?: ReadOptions): Promise<number> {
    if (!isRemoteUrl(url)) return this.local.size(url, options);
    const held = this.#held.get(url);
    if (held) return held.handle.size;
    const cached = await this.#cached(url, options?.signal);
    if (cached) {
      await cached.release();
      return cached.size;
    }
    return (await this.engine.stat(url, options)).size;
  }

  async version(url: string, options?: ReadOptions): Promise<string> {
    if (!isRemoteUrl(url)) return this.local.version(url, options);
    const st = await this.engine.stat(url, options);
    return `${st.size}:${st.etag ?? st.generation ?? st.lastModified?.getTime() ?? ''}`;
  }

  async read(url: string, options?: ReadOptions): Promise<Uint8Array> {
    return (await this.fetch(url, options)).bytes;
  }

  async fetch(url: string, options: FetchOptions = {}): Promise<Fetched> {
    if (!isRemoteUrl(url)) return this.local.fetch(url, options);
    const { signal, size, hash } = options;
    if (!this.cache) {
      // The whole object, which must be the declared size: a longer one fails as soon as it
      // passes that size (a range of the declared length would pass its first bytes as the file).
      const bytes = await this.engine
        .read(url, { signal, expectedSize: size })
        .catch((e: unknown) => {
          // A short body's resumed read past the end of the object: it is shorter than the index says.
          if (size === undefined || !isStreamsError(e, 'STREAMS_INVALID_ARGUMENT')) throw e;
          throw new StreamsError(
            'STREAMS_SIZE_MISMATCH',
            `[streams/index] ${basenameUrl(url)} is shorter than the ${size} bytes the index says`,
            { url, cause: e, fix: 'the file changed or the index is stale: rebuild the index' },
          );
        });
      return { bytes, hit: false, hashChecked: false };
    }
    const expected: ExpectedHash | undefined =
      hash && isHashAlgorithm(hash.algorithm)
        ? { algorithm: hash.algorithm, digest: hash.digest }
        : undefined;
    const handle = await this.#download(url, {
      signal,
      size,
      hash: expected,
      keepBytes: KEEP_BYTES,
    });
    try {
      // A miss hands its bytes over (they were in memory on their way to the file); a hit, or a
      // large object, is read from the entry.
      const b = handle.bytes ?? (await readFile(handle.path, { signal }));
      return {
        bytes: new Uint8Array(b.buffer, b.byteOffset, b.byteLength),
        hit: handle.hit,
        hashChecked:
          expected !== undefined &&
          (!handle.hit || handle.hash === `${hash?.algorithm}:${hash?.digest}`),
      };
    } finally {
      // The bytes are in memory now: the entry may be evicted under the node's budget.
      await handle.release();
    }
  }

  async pin(url: string, options: ReadOptions = {}): Promise<PinnedFile | undefined> {
    if (!isRemoteUrl(url)) return this.local.pin(url);
    if (!this.cache) return undefined;
    const handle = await this.#download(url, { signal: options.signal });
    return { path: handle.path, hit: handle.hit, release: () => handle.release() };
  }

  /**
   * Like {@link pin}, for a reader that learns from a remote object what no index says (a tar's
   * sample count): its size is asked first (one HEAD), so the download reserves its room in the
   * cache before it starts, and a cached entry of another size, cached before the object changed,
   * is downloaded again. Undefined without a cache, or when the cache cannot hold the object
   * (`STREAMS_CACHE_TOO_SMALL`): read it as a stream then.
   */
  async pinCurrent(url: string, options: ReadOptions = {}): Promise<PinnedFile | undefined> {
    if (!isRemoteUrl(url)) return this.local.pin(url);
    const cache = this.cache;
    if (!cache) return undefined;
    const { signal } = options;
    let size: number;
    try {
      ({ size } = await this.engine.stat(url, { signal }));
    } catch (e) {
      // No HEAD (a store that refuses it, a missing object): the stream says what is wrong.
      throwIfAborted(signal);
      if (e instanceof Error && e.name === 'AbortError') throw e;
      return undefined;
    }
    try {
      let handle = await this.#download(url, { signal, size });
      if (handle.size !== size) {
        await handle.release();
        // Pinned elsewhere, a stale entry stays: the stream reads what a load would read then.
        if (!(await cache.remove(cacheKeyOf(url), { signal }))) return undefined;
        handle = await this.#download(url, { signal, size });
      }
      const h = handle;
      return { path: h.path, hit: h.hit, release: () => h.release() };
    } catch (e) {
      if (isStreamsError(e, 'STREAMS_CACHE_TOO_SMALL')) return undefined;
      throw e;
    }
  }

  async readRange(
    url: string,
    start: number,
    end: number,
    options?: ReadOptions,
  ): Promise<Uint8Array> {
    if (!isRemoteUrl(url)) return this.local.readRange(url, start, end, options);
    if (end <= start) return new Uint8Array(0);
    let held = this.#held.get(url);
    if (held) held.readers++;
    else held = await this.#hold(url, options?.signal);
    if (held) {
      held.used = ++this.#tick;
      try {
        return await this.#heldFiles.readRange(held.handle.path, start, end, options);
      } finally {
        held.readers--;
        if (held.dropped && held.readers === 0) await this.#letGo(held);
      }
    }
    return this.engine.read(url, { ...options, offset: start, length: end - start });
  }

  /**
   * Local files, and remote objects whose cache entry this source holds (taken by a `readRange`
   * that found the object cached): the entry stays pinned while held, so its file cannot be
   * evicted under the read. Anything else is undefined: read it with `readRange`.
   */
  readRangeSync(url: string, start: number, end: number): Uint8Array | undefined {
    if (!isRemoteUrl(url)) return this.local.readRangeSync(url, start, end);
    const held = this.#held.get(url);
    if (!held) return undefined;
    // A stamp, not a move to the back of the map: this path costs about a microsecond in all.
    held.used = ++this.#tick;
    try {
      return this.#heldFiles.readRangeSync(held.handle.path, start, end);
    } catch {
      // Its file went behind the pin (`remove` of this cache instance, a hand deletion): let the
      // entry go; `readRange` looks the object up again, or fails with the reason.
      void this.#drop(url, held);
      return undefined;
    }
  }

  async list(url: string, options?: ReadOptions): Promise<string[]> {
    if (!isRemoteUrl(url)) return this.local.list(url, options);
    const prefix = url.endsWith('/') ? url : `${url}/`;
    const entries = await this.engine.list(prefix, options);
    // Direct children only, like a directory listing.
    const names = new Set<string>();
    for (const e of entries) {
      const rest = e.url.slice(prefix.length);
      const slash = rest.indexOf('/');
      names.add(prefix + (slash === -1 ? rest : rest.slice(0, slash)));
    }
    return [...names].sort();
  }

  async walk(url: string, options?: ReadOptions): Promise<string[]> {
    if (!isRemoteUrl(url)) return this.local.walk(url, options);
    const prefix = url.endsWith('/') ? url : `${url}/`;
    return (await this.engine.list(prefix, options)).map((e) => e.url).sort();
  }

  async *stream(url: string, options: ReadOptions = {}): AsyncIterable<Uint8Array> {
    if (!isRemoteUrl(url)) {
      yield* this.local.stream(url, options);
      return;
    }
    // A cached object is read from its entry (pinned meanwhile). Anything else is streamed as it
    // arrives, not cached first: a reader that stops early (`cat --limit`, a line or cell bound on
    // a hostile file) must not have downloaded the whole object. Objects land in the cache when
    // read whole (`fetch`, `read`, `pin`: units of a StreamingDataset, MDS shards, index files).
    const cached = this.cache ? await this.#cached(url, options.signal) : undefined;
    if (cached) {
      const local = new LocalByteSource({ maxHandles: 1 });
      try {
        yield* local.stream(cached.path, options);
      } finally {
        await local.close();
        await cached.release();
      }
      return;
    }
    const body = await getDriver(url).get(url, options);
    let done = false;
    try {
      yield* body;
      done = true;
    } finally {
      // A reader that stops early (cat --limit) must release the connection.
      if (!done) await body.cancel().catch(() => undefined);
    }
  }

  /** Writes an object (for writers whose output is remote), through the driver of its scheme. */
  async put(url: string, data: Uint8Array, options: ReadOptions = {}): Promise<void> {
    await getDriver(url).put(url, data, { ...options, size: data.length });
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#dropAll();
    await this.#heldFiles.close();
    await this.local.close();
  }

  /**
   * The entry of `url` when it is cached now, counted as read (its `readers` taken for the caller
   * before any other task can let it go): held for further range reads, or, when it does not fit
   * the held share of the budget (or the source is closed), pinned for this read only (returned
   * already dropped). Undefined when the object is not cached.
   */
  async #hold(url: string, signal?: AbortSignal): Promise<Held | undefined> {
    const handle = await this.#cached(url, signal);
    if (!handle) return undefined;
    const had = this.#held.get(url);
    if (had) {
      // Another read took the hold meanwhile: one pin is enough.
      had.readers++;
      await handle.release();
      return had;
    }
    const share = (this.cache?.stats().budget ?? 0) * HELD_BUDGET_SHARE;
    const held: Held = {
      handle,
      readers: 1,
      dropped: this.#closed || handle.size > share,
      used: ++this.#tick,
    };
    if (held.dropped) return held;
    this.#held.set(url, held);
    this.#heldBytes += handle.size;
    while (this.#held.size > MAX_HELD || this.#heldBytes > share) {
      let oldest: [string, Held] | undefined;
      for (const e of this.#held)
        if (e[1] !== held && (!oldest || e[1].used < oldest[1].used)) oldest = e;
      if (!oldest) break;
      void this.#drop(...oldest);
    }
    return held;
  }

  /** Stops holding an entry; its pin goes once no read of it is under way. */
  #drop(url: string, held: Held): Promise<void> {
    this.#held.delete(url);
    this.#heldBytes -= held.handle.size;
    held.dropped = true;
    return held.readers === 0 ? this.#letGo(held) : Promise.resolve();
  }

  /** Lets every held entry go. */
  async #dropAll(): Promise<void> {
    await Promise.all([...this.#held].map(([url, held]) => this.#drop(url, held)));
  }

  async #letGo(held: Held): Promise<void> {
    // Its handles first: an evicted file kept open would hold its disk space past the budget.
    await this.#heldFiles.forget(held.handle.path);
    await held.handle.release();
  }

  /**
   * A remote object into the cache (pinned: release it). Entries held for range reads are pinned
   * too: when they leave no room for it, they are let go and the download tried once more.
   */
  async #download(
    url: string,
    options: Omit<DownloadToCacheOptions, 'engine'>,
  ): Promise<CachedDownload> {
    const cache = this.cache as DiskCache;
    const go = () =>
      downloadToCache(cache, cacheKeyOf(url), url, { ...options, engine: this.engine });
    try {
      return await go();
    } catch (e) {
      if (!isStreamsError(e, 'STREAMS_CACHE_TOO_SMALL') || this.#held.size === 0) throw e;
      await this.#dropAll();
      return go();
    }
  }

  /** The cache entry of `url` when it is cached now (pinned: release it), else undefined. */
  #cached(url: string, signal?: AbortSignal): Promise<CacheHandle | undefined> {
    return this.#entry(cacheKeyOf(url), signal);
  }

  /** The cache entry `key` when it is there now (pinned: release it), else undefined. */
  async #entry(key: string, signal?: AbortSignal): Promise<CacheHandle | undefined> {
    if (!this.cache) return undefined;
    if (!(await this.cache.has(key))) return undefined;
    try {
      return await this.cache.acquire(key, notCached, { signal });
    } catch (e) {
      if (e instanceof NotCached) return undefined; // evicted meanwhile
      throw e;
    }
  }
}
