import { openCache } from '@streams/cache';
import { parseBytes, settings } from '@streams/core';
import { registerDriver, s3Driver } from '@streams/downloader';
import { isRemoteUrl, RoutingByteSource } from '@streams/index';
import type { FlagSpec } from './commands.js';

/** Flags every data command takes for remote storage. */
export const REMOTE_FLAGS = {
  endpoint: {
    type: 'string',
    description: 'S3-compatible endpoint URL for s3:// datasets (e.g. http://127.0.0.1:9000)',
  },
} satisfies Record<string, FlagSpec>;

/** Flags of the commands that read a dataset: where remote bytes are cached. */
export const CACHE_FLAGS = {
  'cache-dir': {
    type: 'string',
    description:
      'node cache for remote datasets (default STREAMS_CACHE_DIR): a second read of the same data downloads nothing',
  },
  'cache-limit': {
    type: 'string',
    description: 'byte budget of the node cache (default 20gb)',
  },
} satisfies Record<string, FlagSpec>;

/** Applies remote-storage flags: `--endpoint` re-registers the s3 driver for that endpoint. */
export async function configureRemote(flags: Record<string, unknown>): Promise<void> {
  if (typeof flags.endpoint === 'string' && flags.endpoint !== '') {
    const endpoint = flags.endpoint;
    registerDriver('s3', () => s3Driver({ endpoint, forcePathStyle: true }));
  }
}

/**
 * The byte source a data command reads `url` through: a remote dataset (index, shards, the files
 * rows name) goes through the node cache, as StreamingDataset reads it; a local one is read in place.
 */
export async function commandSource(
  url: string,
  flags: Record<string, unknown>,
  signal?: AbortSignal,
): Promise<{ source: RoutingByteSource } & AsyncDisposable> {
  // Parsed first, also for a local dataset, so a bad value is named as the flag the user gave.
  const limit =
    typeof flags['cache-limit'] === 'string'
      ? parseBytes(flags['cache-limit'], '--cache-limit')
      : '20gb';
  const cache = isRemoteUrl(url)
    ? await openCache({
        dir: typeof flags['cache-dir'] === 'string' ? flags['cache-dir'] : settings().cacheDir,
        limit,
        signal,
      })
    : undefined;
  const source = new RoutingByteSource({ cache });
  return {
    source,
    async [Symbol.asyncDispose]() {
      await source.close();
      await cache?.close();
    },
  };
}
