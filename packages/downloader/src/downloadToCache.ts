import type { CacheHandle, DiskCache } from '@streams/cache';
import type { DownloadOptions } from './downloadOptions.js';
import { defaultEngine, type FetchEngine } from './fetchEngine.js';
import { parseHash } from './integrity.js';

/** Options of {@link downloadToCache}. */
export interface DownloadToCacheOptions
  extends Omit<DownloadOptions, 'tempPath' | 'decompressedPath' | 'keepCompressed'> {
  /** The engine to use (default: {@link defaultEngine}). */
  engine?: FetchEngine;
  /** The only copy is local: never evicted (see the cache's `localOnly`). */
  localOnly?: boolean;
}

/** What {@link downloadToCache} returns: the pinned entry, with its bytes when it kept them. */
export interface CachedDownload extends CacheHandle {
  /**
   * The entry's bytes, when this call downloaded it (a miss), `keepBytes` asked for them and the
   * object fit: the same bytes as the file at `path`, so the caller need not read it back.
   */
  readonly bytes?: Uint8Array;
}

/**
 * Returns a pinned cache entry for `key`, downloading `url` into the cache on a miss (once per
 * node, however many processes ask). The download is verified (size, digest) before the cache
 * commits it; with `decompress` the entry holds the decompressed bytes. Release the handle
 * when done reading.
 */
export async function downloadToCache(
  cache: DiskCache,
  key: string,
  url: string,
  options: DownloadToCacheOptions = {},
): Promise<CachedDownload> {
  const { engine = defaultEngine(), localOnly, ...download } = options;
  const algorithm = download.hash === undefined ? undefined : parseHash(download.hash).algorithm;
  // The bytes this call's fill wrote, when the engine kept them.
  let body: Uint8Array | undefined;
  const handle = await cache.acquire(
    key,
    async ({ tmpPath, signal }) => {
      const r = await engine.download(url, tmpPath, {
        ...download,
        // The fill's signal already aborts with options.signal (the acquire that claimed the key
        // passed it), and with the cache's close.
        signal,
        // The bytes land in tmpPath itself (nothing is renamed twice): the cache commits nothing
        // there before the fill resolves, and its recovery deletes it, or keeps it (and the
        // `<tmpPath>.part` file of a decompressing fill) while the fill is live.
        tempPath: download.decompress ? `${tmpPath}.part` : tmpPath,
        decompressedPath: download.decompress ? tmpPath : undefined,
      });
      body = r.body;
      // Only a digest of the bytes the cache holds is worth keeping for its recovery checks.
      const hash =
        r.digest && algorithm && !download.decompress ? `${algorithm}:${r.digest}` : undefined;
      // The engine fsynced the file (or the decompressed one) already: once is enough.
      return { hash, synced: r.synced === true };
    },
    // A compressed size says nothing about the entry's size once decompressed.
    {
      signal: options.signal,
      expectedSize: download.decompress ? undefined : download.size,
      localOnly,
    },
  );
  // A miss is this call's own fill (a hit or a wait for another fill ran no filler here), and the
  // cache committed exactly the file the engine wrote: its size is the last check.
  if (!handle.hit && body !== undefined && body.byteLength === handle.size)
    return Object.assign(handle, { bytes: body });
  return handle;
}
