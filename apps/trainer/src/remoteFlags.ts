import { registerDriver, s3Driver } from '@streams/downloader';
import type { FlagSpec } from './commands.js';

/** Flags every data command takes for remote storage. */
export const REMOTE_FLAGS = {
  endpoint: {
    type: 'string',
    description: 'S3-compatible endpoint URL for s3:// datasets (e.g. http://127.0.0.1:9000)',
  },
} satisfies Record<string, FlagSpec>;

/** Applies remote-storage flags: `--endpoint` re-registers the s3 driver for that endpoint. */
export async function configureRemote(flags: Record<string, unknown>): Promise<void> {
  if (typeof flags.endpoint === 'string' && flags.endpoint !== '') {
    const endpoint = flags.endpoint;
    registerDriver('s3', () => s3Driver({ endpoint, forcePathStyle: true }));
  }
}
