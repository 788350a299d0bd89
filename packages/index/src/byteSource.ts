// The byte-source contract every reader of the index package goes through: whole reads, range
// reads (async, and synchronous where the bytes are on a local disk), stats, listings, streams,
// uploads and memos. `LocalByteSource` (localByteSource.ts) serves local files;
// `RoutingByteSource` (routingByteSource.ts) routes remote URLs through `@streams/downloader`.

/** Options every read takes. */
export interface ReadOptions {
  signal?: AbortSignal;
}

/** Options of {@link ByteSource.fetch}: what the index says about the object. */
export interface FetchOptions extends ReadOptions {
  /** The object's size as the index declares it: never more is read, and a cached copy must match. */
  size?: number;
  /** The expected digest: a download into the cache is checked against it before it is kept. */
  hash?: { algorithm: string; digest: string };
}

/** What {@link ByteSource.fetch} returns. */
export interface Fetched {
  bytes: Uint8Array;
  /** True when nothing was transferred (a local file or a cache hit). */
  hit: boolean;
  /** True when the bytes were checked against `hash` on the way (a download or a cache entry recorded with it). */
  hashChecked: boolean;
}

/** A local file with an object's bytes, kept until released (see {@link ByteSource.pin}). */
export interface PinnedFile {
  path: string;
  /** True when nothing was transferred to have it. */
  hit: boolean;
  release(): Promise<void>;
}

/**
 * The seam between formats and storage, and the one fetch path: whole reads (through the node cache
 * when the source has one), range reads, listings and streams of one location. Local paths and
 * `file:` URLs are served from the filesystem; other schemes go through `@streams/downloader`.
 */
export interface ByteSource {
  /** Size in bytes; `STREAMS_NOT_FOUND` when missing. */
  size(url: string, options?: ReadOptions): Promise<number>;
  /** The whole object. */
  read(url: string, options?: ReadOptions): Promise<Uint8Array>;
  /**
   * The whole object as the index describes it (at most `size` bytes), through the node cache for
   * remote objects when the source has one: the path every unit and per-row file takes.
   */
  fetch(url: string, options?: FetchOptions): Promise<Fetched>;
  /** Bytes `[start, end)`; fewer bytes than asked means the object is shorter. */
  readRange(url: string, start: number, end: number, options?: ReadOptions): Promise<Uint8Array>;
  /**
   * Bytes `[start, end)` read synchronously when the object is a local file (or, for a source with
   * a node cache, a remote object whose entry it holds), else undefined (use `readRange`). For tiny
   * reads: a positional `readSync` costs ~1 µs where an async read costs tens (a thread-pool round
   * trip), so random access to small samples takes this path.
   */
  readRangeSync?(url: string, start: number, end: number): Uint8Array | undefined;
  /**
   * A local file holding the object, for readers that come back to it many times (index files):
   * the file itself, or its node-cache entry (downloaded on a miss) pinned until `release`.
   * Undefined for a remote object when there is no cache.
   */
  pin?(url: string, options?: ReadOptions): Promise<PinnedFile | undefined>;
  /**
   * Like `pin`, for a reader that learns from the object what no index says (a shard's sample
   * count): the entry is of the object as it is now (its size asked first), so its first load is a
   * cache hit. Undefined when the object cannot be cached (no cache, or too large): stream it.
   */
  pinCurrent?(url: string, options?: ReadOptions): Promise<PinnedFile | undefined>;
  /** Entries directly under a directory-like URL, as full URLs (or paths), sorted. */
  list(url: string, options?: ReadOptions): Promise<string[]>;
  /** Every file under a directory-like URL, recursively, sorted. */
  walk(url: string, options?: ReadOptions): Promise<string[]>;
  /** The whole object as a stream of chunks (for formats read front to back: tar, JSONL, CSV). */
  stream(url: string, options?: ReadOptions): AsyncIterable<Uint8Array>;
  /**
   * What changes when the object does: size and modification time of a local file; size and
   * ETag (or generation, or last-modified time) of a remote object. Keys memos of derived facts.
   */
  version?(url: string, options?: ReadOptions): Promise<string>;
  /** Small derived facts kept across runs (e.g. shard sample counts), in the node cache. */
  memo?: MemoStore;
  /** Releases cached handles (never the node cache, which belongs to its opener). */
  close(): Promise<void>;
}

/** Small named blobs kept across runs; a memo may vanish (eviction) and is then recomputed. */
export interface MemoStore {
  get(key: string, options?: ReadOptions): Promise<Uint8Array | undefined>;
  put(key: string, bytes: Uint8Array, options?: ReadOptions): Promise<void>;
}
