// The options and results of the cache's API (see `DiskCache`).
import type { StreamsEventListener } from '@streams/core';
import type { CacheCounters } from './cacheCore.js';

/** Options of `openCache`. */
export interface CacheOptions {
  /** Cache directory; defaults to `settings().cacheDir` (`STREAMS_CACHE_DIR`). Created if missing. */
  dir?: string;
  /** Byte budget for everything in the directory: bytes or a string such as `"20gb"`. */
  limit: number | string;
  /** Entries unused for this long are removed by `DiskCache.gc` (local-only and pinned ones stay). */
  ttlMs?: number;
  /** How often `gc()` runs by itself when `ttlMs` is set; default `min(ttlMs / 2, 10 min)`; 0 disables. */
  gcIntervalMs?: number;
  /** Receives every event (the same as `cache.on(listener)`). */
  onEvent?: StreamsEventListener;
  /** fsync fills and commit records (default true). Turn off only on throwaway storage such as tmpfs. */
  fsync?: boolean;
  /** What opening checks after a crash: recorded sizes (default) or sizes and hashes. */
  verify?: 'size' | 'hash';
  /** Wall clock used for TTL (tests inject one). */
  now?: () => number;
  /** Aborts waiting for the cache lock while opening. */
  signal?: AbortSignal;
}

/** Options of `DiskCache.acquire`. */
export interface AcquireOptions {
  signal?: AbortSignal;
  /** The only copy is local (a dataset with no remote): never evicted, counted in usage. */
  localOnly?: boolean;
  /** Size of the entry when known before the fill: reserved before `fill` runs. */
  expectedSize?: number;
}

/** A pinned cache entry. Release it (or `await using`) when done reading. */
export interface CacheHandle extends AsyncDisposable {
  readonly key: string;
  /** Absolute path of the entry's file; valid until release. */
  readonly path: string;
  readonly size: number;
  readonly hash: string | undefined;
  /** True when the entry was already cached (no fill by this call). */
  readonly hit: boolean;
  readonly localOnly: boolean;
  /** Milliseconds spent waiting for another fill of the same key. */
  readonly waitedMs: number;
  /** Unpins the entry; idempotent. */
  release(): Promise<void>;
}

/** Counters of this process and the shared usage as last seen under the lock. */
export interface CacheStats extends CacheCounters {
  /** Shared figures (all processes). */
  entries: number;
  bytesInUse: number;
  pinnedBytes: number;
  localBytes: number;
  reservedBytes: number;
  budget: number;
  openProcesses: number;
}

/** Result of `DiskCache.audit`: records compared with the files, under the lock. */
export interface CacheAudit {
  budget: number;
  recordedBytes: number;
  reservedBytes: number;
  /** Bytes of files in `data/` and `tmp/`. */
  dataBytes: number;
  tmpBytes: number;
  entries: number;
  /** Mismatches between records and files; empty when consistent. */
  problems: string[];
}

/** One entry as listed by `DiskCache.list`. */
export interface CacheEntryInfo {
  key: string;
  path: string;
  size: number;
  hash: string | undefined;
  localOnly: boolean;
  /** Pins held by all processes, and by this cache instance. */
  pins: number;
  ownPins: number;
  /** Wall time of the last acquire or release. */
  usedAt: number;
}

/** Result of `DiskCache.gc`. */
export interface GcResult {
  removed: number;
  freedBytes: number;
}
