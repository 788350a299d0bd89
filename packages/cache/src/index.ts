export type { CacheCounters } from './cacheCore.js';
export { entryFile, validateKey } from './cacheKey.js';
export {
  type AcquireOptions,
  type CacheAudit,
  type CacheEntryInfo,
  type CacheHandle,
  type CacheOptions,
  type CacheStats,
  DiskCache,
  type FillContext,
  type Filler,
  type FillResult,
  type GcResult,
  openCache,
} from './diskCache.js';
