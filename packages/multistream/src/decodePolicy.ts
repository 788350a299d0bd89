// What happens to a sample that cannot be read or decoded (a truncated JPEG, a row whose file is
// gone, a wrong hash): the one place a StreamingDataset applies its `decodePolicy`. The failure
// itself is wrapped by `decodeFailed` of @streams/transforms (the one home of that wrapper; it
// loads no codec), with the sample's coordinates.
import { type EventHub, isAbortError, isStreamsError, StreamsError } from '@streams/core';
import { decodeFailed } from '@streams/transforms';

/** A slot whose sample was dropped by the decode policy: the state still moves past it. */
export const SKIPPED: unique symbol = Symbol('skipped');

/** Where a failed sample is: its stream, unit (shard or rows), index in the unit, and position. */
export interface FailureCoordinates {
  stream: string;
  shard: string;
  sample: number;
  /** Global sample id and position in the order, for the report. */
  id: number;
  position: number;
}

const FIX =
  "check the sample's bytes (truncated, missing or of another format), or open the dataset with decodePolicy: 'skip'";

/** A skipped sample as reported: its coordinates and why. */
export interface SkippedSample extends FailureCoordinates {
  code: string;
  url: string | undefined;
  message: string;
}

/**
 * The decode policy of a dataset: `error` rethrows a failed sample as `STREAMS_DECODE_FAILED`
 * (or its own code: a missing file stays `STREAMS_NOT_FOUND`) with its coordinates; `skip`
 * drops it, counts it, keeps a report of it and emits `decode.skipped`.
 */
export class DecodePolicy {
  skipped = 0;
  /** The skipped samples, most recent last (at most `reportLimit`). */
  readonly report: SkippedSample[] = [];

  constructor(
    readonly policy: 'error' | 'skip',
    private readonly events: EventHub,
    private readonly reportLimit = 10_000,
  ) {}

  /**
   * Handles a failed sample: throws under `error` (and always for aborts), else records it and
   * returns {@link SKIPPED}.
   */
  fail(cause: unknown, at: FailureCoordinates, signal?: AbortSignal): typeof SKIPPED {
    if (isAbortError(cause) || signal?.aborted) throw cause;
    const error = sampleFailed(cause, at);
    if (this.policy !== 'skip') throw error;
    return this.skip(at, error);
  }

  /** Counts a sample dropped without an error (a transform resolving to `undefined`). */
  drop(): typeof SKIPPED {
    this.skipped++;
    return SKIPPED;
  }

  private skip(at: FailureCoordinates, error: StreamsError): typeof SKIPPED {
    this.skipped++;
    this.report.push({ ...at, code: error.code, url: error.url, message: error.message });
    if (this.report.length > this.reportLimit) this.report.shift();
    if (this.events.active)
      this.events.emit({
        kind: 'metric',
        name: 'decode.skipped',
        counters: { skipped: this.skipped },
        attrs: {
          stream: at.stream,
          shard: at.shard,
          sample: at.sample,
          id: at.id,
          position: at.position,
          code: error.code,
          url: error.url,
          error: error.message,
        },
      });
    return SKIPPED;
  }
}

/**
 * A failed sample as a StreamsError with its coordinates: read failures keep their code (a row's
 * missing file is `STREAMS_NOT_FOUND`, a wrong digest `STREAMS_HASH_MISMATCH`), anything else is
 * `STREAMS_DECODE_FAILED`.
 */
export function sampleFailed(cause: unknown, at: FailureCoordinates): StreamsError {
  const coords = { stream: at.stream, shard: at.shard, sample: at.sample };
  const wrapped = decodeFailed('the transform failed', cause, coords, FIX);
  if (isStreamsError(wrapped) && wrapped.stream !== undefined) return wrapped;
  // A StreamsError of another code (a read failure) keeps it, with the sample's coordinates added.
  const e = wrapped as StreamsError;
  const fixAt = e.message.indexOf('. Fix: ');
  return new StreamsError(e.code, fixAt === -1 ? e.message : e.message.slice(0, fixAt), {
    ...coords,
    url: e.url,
    cause: e,
    fix: e.fix ?? FIX,
  });
}
