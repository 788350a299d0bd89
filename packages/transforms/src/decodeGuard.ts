import type { ErrorCoordinates, EventHub } from '@streams/core';
import { isAbortError, isStreamsError, StreamsError } from '@streams/core';
import { transformsEvents } from './events.js';

/** What to do with a sample that fails to decode: rethrow, drop it, or reuse the last good one. */
export type DecodePolicy = 'error' | 'skip' | 'replace';

/** Coordinates of a sample, carried by `STREAMS_DECODE_FAILED` errors and `decode.failed` events. */
export type SampleCoordinates = Omit<ErrorCoordinates, 'url'> & { url?: string };

/** Wraps any decoder failure as a `STREAMS_DECODE_FAILED` StreamsError (abort errors pass through). */
export function decodeFailed(
  what: string,
  cause: unknown,
  coords: SampleCoordinates = {},
  fix = 'check the sample bytes (truncated, empty or of another format), or set the dataset decode policy to skip or replace',
): unknown {
  if (isAbortError(cause)) return cause;
  if (isStreamsError(cause, 'STREAMS_DECODE_FAILED')) {
    if (coords.sample === undefined && coords.shard === undefined && coords.stream === undefined)
      return cause;
    return new StreamsError('STREAMS_DECODE_FAILED', stripCoords(cause.message), {
      ...coords,
      cause: cause.cause ?? cause,
      fix: cause.fix,
    });
  }
  if (isStreamsError(cause) && cause.code !== 'STREAMS_DECODE_FAILED') return cause;
  const reason = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
  return new StreamsError('STREAMS_DECODE_FAILED', `[streams/transforms] ${what}: ${reason}`, {
    ...coords,
    cause,
    fix,
  });
}

function stripCoords(message: string): string {
  // Drop the formatted " (stream..., sample ...). Fix: ..." tail so it is not repeated.
  const fixAt = message.indexOf('. Fix: ');
  return fixAt === -1 ? message : message.slice(0, fixAt);
}

/** Counts of a {@link DecodeGuard}. */
export interface DecodeCounts {
  ok: number;
  failed: number;
  skipped: number;
  replaced: number;
}

/** Options of {@link DecodeGuard}. */
export interface DecodeGuardOptions<T> {
  /** Default `error`. */
  policy?: DecodePolicy;
  /** Name of the dataset or stream, added to errors and events. */
  stream?: string | number;
  /** Hub that receives `decode.failed` warnings; default: the package hub `transformsEvents`. */
  events?: EventHub;
  /**
   * For `replace` before any sample decoded: a stand-in (e.g. zeros of the right shape).
   * Without it such a sample is skipped.
   */
  fallback?: () => T | Promise<T>;
}

/**
 * Applies a per-dataset broken-sample policy around a decoder: `error` rethrows a typed
 * `STREAMS_DECODE_FAILED` error with the sample's coordinates, `skip` returns `undefined`,
 * `replace` returns a copy of the last successfully decoded value. Every failure emits `decode.failed`
 * with the running counts. Aborts always propagate.
 */
export class DecodeGuard<T> {
  readonly policy: DecodePolicy;
  readonly counts: DecodeCounts = { ok: 0, failed: 0, skipped: 0, replaced: 0 };
  private last: { value: T } | undefined;

  constructor(private readonly options: DecodeGuardOptions<T> = {}) {
    this.policy = options.policy ?? 'error';
  }

  /** Runs `decode` for the sample at `coords`; `undefined` means the sample was skipped. */
  async run(decode: () => Promise<T>, coords: SampleCoordinates = {}): Promise<T | undefined> {
    const where = { stream: this.options.stream, ...coords };
    try {
      const value = await decode();
      this.counts.ok++;
      if (this.policy === 'replace') this.last = { value };
      return value;
    } catch (err) {
      if (isAbortError(err)) throw err;
      const error = decodeFailed('decode failed', err, where);
      if (!isStreamsError(error, 'STREAMS_DECODE_FAILED')) throw error;
      this.counts.failed++;
      let outcome: 'error' | 'skip' | 'replace' = this.policy;
      let value: T | undefined;
      if (this.policy === 'replace') {
        // A copy: the consumer may transfer or mutate the arrays of the sample it got before.
        if (this.last) value = structuredClone(this.last.value);
        else if (this.options.fallback) value = await this.options.fallback();
        else outcome = 'skip';
      }
      if (outcome === 'skip') this.counts.skipped++;
      if (outcome === 'replace') this.counts.replaced++;
      (this.options.events ?? transformsEvents).emit({
        kind: 'warning',
        name: 'decode.failed',
        counters: { ...this.counts },
        attrs: {
          policy: this.policy,
          outcome,
          stream: where.stream,
          shard: where.shard,
          sample: typeof where.sample === 'bigint' ? Number(where.sample) : where.sample,
          url: error.url,
          message: error.message,
        },
      });
      if (outcome === 'error') throw error;
      return value;
    }
  }
}

/** A preset-shaped function (see `Preset` in presets.ts), kept structural to avoid an import cycle. */
type Decoder<S, R, Out> = (
  sample: S,
  rng: R,
  call?: { signal?: AbortSignal; coords?: SampleCoordinates },
) => Promise<Out>;

/**
 * Wraps a preset with a broken-sample policy: the result resolves to `undefined` for skipped
 * samples; `.guard.counts` holds the counts.
 *
 * @example
 * const transform = guarded(imageClassification(), { policy: 'skip', stream: 'laion' });
 */
export function guarded<S, R, Out>(
  preset: Decoder<S, R, Out>,
  options: DecodeGuardOptions<Out>,
): Decoder<S, R, Out | undefined> & { guard: DecodeGuard<Out> } {
  const guard = new DecodeGuard<Out>(options);
  const fn = (sample: S, rng: R, call: { signal?: AbortSignal; coords?: SampleCoordinates } = {}) =>
    guard.run(() => preset(sample, rng, call), call.coords);
  return Object.assign(fn, { guard });
}
