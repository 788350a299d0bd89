// The options and results of the engine's transfers, shared by the engine, its transfers and
// prefetch queues.
import type { Compression } from './decompress.js';
import type { ExpectedHash } from './integrity.js';

/** Options of `FetchEngine.download`. */
export interface DownloadOptions {
  signal?: AbortSignal | undefined;
  /** Expected size in bytes of the object as stored (checked always; else Content-Length is). */
  size?: number | undefined;
  /** Expected digest of the object as stored, e.g. `"sha256:..."` or `{ algorithm: 'xxh64', digest }`. */
  hash?: ExpectedHash | undefined;
  /**
   * Decompress on landing: `true` picks the codec from the URL's extension (`.gz`, `.bz2`, `.zst`,
   * `.zstd`, `.br`, `.snappy`), or name one. The decompressed file lands at `dest` minus that extension
   * (or at `decompressedPath`).
   */
  decompress?: boolean | Compression | undefined;
  /** Where the decompressed file lands (default: `dest` without the compression extension). */
  decompressedPath?: string | undefined;
  /** Keep the compressed file at `dest` next to the decompressed one (default false). */
  keepCompressed?: boolean | undefined;
  /**
   * Where bytes go while they arrive (default: a hidden `.part` file next to `dest`). Must be on
   * the same file system as `dest`; each attempt starts it afresh. May be `dest` itself when
   * nothing reads `dest` before the download resolves (the disk cache's fills): no rename then.
   */
  tempPath?: string | undefined;
  /**
   * Keep a file already at the destination instead of downloading: `dest` must match `size` and
   * `hash` when given; with `decompress`, the decompressed file must exist (default false).
   */
  skipExisting?: boolean | undefined;
  /**
   * Also hand the bytes back in memory (`DownloadResult.body`) when the object is at most this
   * many bytes: a caller that reads the whole file next saves that read (default 0: never; not
   * with `decompress`, nor for objects fetched in parts).
   */
  keepBytes?: number | undefined;
}

/** What a finished download produced. */
export interface DownloadResult {
  /** The URL, redacted. */
  url: string;
  /** The file to read: the decompressed one when decompressing, else `dest`. */
  path: string;
  /** The compressed copy, when kept. */
  compressedPath?: string | undefined;
  /** Bytes transferred by the successful attempt (the object's size). */
  bytes: number;
  /** Size of the file at `path`. */
  size: number;
  attempts: number;
  /** The computed digest (hex), when a hash was given. */
  digest?: string | undefined;
  durationMs: number;
  /** True when the file at `path` was fsynced before it landed (the engine's `fsync` option). */
  synced?: boolean | undefined;
  /** The file's bytes, as written, when `keepBytes` asked for them and the object fit. */
  body?: Uint8Array | undefined;
}

/** Options of `FetchEngine.read`. */
export interface ReadOptions {
  signal?: AbortSignal | undefined;
  /** First byte (default 0). */
  offset?: number | undefined;
  /** Bytes to read (default: to the end). */
  length?: number | undefined;
  /**
   * For a whole-object read (no offset or length): the size the object must have. A longer body
   * stops being read at once and fails with `STREAMS_SIZE_MISMATCH`, as does a shorter one.
   */
  expectedSize?: number | undefined;
}

/** Counters of everything an engine did, as reported in its events. */
export interface EngineCounters {
  bytes: number;
  done: number;
  failed: number;
  retries: number;
  throttles: number;
  inFlight: number;
  [key: string]: number;
}
