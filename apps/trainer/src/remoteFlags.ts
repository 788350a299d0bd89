import type { FlagSpec } from './commands.js';

/** Flags every data command takes for remote storage. */
export const REMOTE_FLAGS = {
  endpoint: {
    type: 'string',
    description: 'S3-compatible endpoint URL for s3:// datasets (e.g. http://127.0.0.1:9000)',
  },
} satisfies Record<string, FlagSpec>;

/** Applies remote-storage flags (the downloader reads endpoints from its own settings). */
export async function configureRemote(flags: Record<string, unknown>): Promise<void> {
  if (typeof flags.endpoint === 'string' && flags.endpoint !== '') {
    // The S3 driver takes its endpoint from the standard AWS variable.
    process.env.AWS_ENDPOINT_URL_S3 = flags.endpoint;
    process.env.AWS_ENDPOINT_URL = flags.endpoint;
  }
}
