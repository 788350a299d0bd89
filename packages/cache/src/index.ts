export type { CacheCounters } from './cacheCore.js';
export { entryFile, validateKey } from './cacheKey.js';
export type {
  AcquireOptions,
  CacheAudit,
  CacheEntryInfo,
  CacheHandle,
  CacheOptions,
  CacheStats,
  GcResult,
} from './cacheOptions.js';
export { DiskCache, openCache } from './diskCache.js';
export type { FillContext, Filler, FillResult } from './fills.js';
