// Random access into a StreamingDataset: one global sample (streams laid end to end), read through
// the same unit loader and cache as iteration, outside any order.
import { type EventHub, StreamsError } from '@streams/core';
import { DecodePolicy, SKIPPED } from './decodePolicy.js';
import { type EpochPlan, locateSample } from './epochPlan.js';
import { decodeSample, type WindowContext } from './sampleWindow.js';

/** What a random read needs from its dataset. */
export interface RandomAccessContext<T> {
  window: WindowContext<T>;
  events: EventHub;
  /** Samples of all streams together. */
  total: number;
  epoch: number;
  /** The current epoch plan (built only once `i` is known to be in range). */
  plan(): EpochPlan;
}

/** Global sample `i`; a failure is an error whatever the dataset's decode policy. */
export async function sampleAt<T>(
  at: RandomAccessContext<T>,
  i: number,
  signal: AbortSignal | undefined,
): Promise<T> {
  const total = at.total;
  if (!(Number.isSafeInteger(i) && i >= 0 && i < total)) {
    throw new StreamsError(
      'STREAMS_INVALID_ARGUMENT',
      `[streams/multistream] sample ${i} is outside the dataset's ${total} samples`,
      {
        fix: `ask for a sample in [0, ${total})`,
      },
    );
  }
  const loc = locateSample(at.plan(), i);
  const release = at.window.loader.refOne(loc.stream, loc.shard, loc.index);
  // A failure is an error whatever the decode policy: there is no next sample to skip to.
  const out = await decodeSample(
    { ...at.window, policy: new DecodePolicy('error', at.events) },
    { id: i, ...loc, epoch: at.epoch, position: -1, padding: false },
    signal,
    release,
  );
  return (out === SKIPPED ? undefined : out) as T;
}
