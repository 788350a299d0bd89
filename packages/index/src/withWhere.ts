// Error coordinates for MDS reads: the decoders and offset checks of mdsShard.ts raise errors that
// know nothing of where their bytes came from; the dataset's readers add the shard, URL and sample.
import { StreamsError } from '@streams/core';

/** Adds coordinates to a StreamsError raised without them. */
export function withWhere(
  e: unknown,
  where: { shard?: string; url?: string; sample?: number },
): unknown {
  if (e instanceof StreamsError && e.shard === undefined) {
    return new StreamsError(e.code, e.message.replace(/\. Fix: .*$/s, ''), {
      cause: e.cause ?? e,
      shard: where.shard,
      url: where.url,
      sample: where.sample,
      fix: e.fix,
    });
  }
  return e;
}
