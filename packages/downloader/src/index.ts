// Storage drivers behind one interface and a fetch engine that survives real networks.
// The node cache downloadToCache fills, for packages above this one that hand a cache through
// (@streams/index's byte source) without depending on @streams/cache themselves.
export { type CacheHandle, type DiskCache, openCache } from '@streams/cache';
export { ConcurrencyLimiter } from './concurrencyLimiter.js';
export {
  type Compression,
  compressionOf,
  compressionOfExtension,
  createDecompressor,
  decompressBytes,
  decompressFile,
} from './decompress.js';
export type {
  DownloadOptions,
  DownloadResult,
  EngineCounters,
  ReadOptions,
} from './downloadOptions.js';
export {
  type CachedDownload,
  type DownloadToCacheOptions,
  downloadToCache,
} from './downloadToCache.js';
export {
  type Driver,
  type ListEntry,
  type ListPage,
  makeBody,
  type ObjectBody,
  type ObjectStat,
  type OperationOptions,
  type PutBody,
  type PutOptions,
  statusError,
  TransferError,
  type TransferErrorOptions,
} from './driver.js';
export { type FileDriverOptions, fileDriver } from './drivers/file.js';
export { type GcsDriverOptions, gcsDriver } from './drivers/gcs.js';
export { type HttpCredentials, type HttpDriverOptions, httpDriver } from './drivers/http.js';
export { type S3DriverOptions, s3Driver } from './drivers/s3.js';
export {
  createFetchEngine,
  defaultEngine,
  FetchEngine,
  type FetchEngineOptions,
  setDefaultEngine,
} from './fetchEngine.js';
export {
  createHasher,
  type ExpectedHash,
  HASH_ALGORITHMS,
  type HashAlgorithm,
  type Hasher,
  hashBytes,
  isHashAlgorithm,
  PYTHON_HASH_ALGORITHMS,
  parseHash,
} from './integrity.js';
export { sweepPartialFiles } from './landing.js';
export { type ObjectUrl, parseObjectUrl } from './objectUrl.js';
export {
  type PrefetchEngine,
  type PrefetchOptions,
  PrefetchQueue,
  type PrefetchStats,
} from './prefetchQueue.js';
export {
  type DriverFactory,
  disposeDrivers,
  getDriver,
  registerDriver,
  registeredSchemes,
  unregisterDriver,
} from './registry.js';
