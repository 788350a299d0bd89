import { parseDuration, rng, StreamsError } from '@streams/core';

/** How a stream's location is read: its format and, for index tables, which columns to fetch. */
export interface FormatKnobs {
  /** The shard format (`mds`, `wds`, `jsonl`, `csv`, `table` or a registered one); default: detected. */
  format?: string;
  /** Index tables: the columns holding URLs or paths of each row's files (default: by name). */
  urlColumns?: readonly string[];
  /** Index tables: the URL columns fetched for each row (default all; `[]` reads metadata only). */
  columnsToDownload?: readonly string[];
  /**
   * Index tables: output column -> alternative URL columns, one chosen per sample by the seeded
   * rng before anything is fetched (e.g. `{ caption_emb: ['emb_a', 'emb_b'] }`).
   */
  alternatives?: Readonly<Record<string, readonly string[]>>;
  /** Index tables: the columns with each file's expected size and digest (default: by name). */
  sizeColumn?: string;
  hashColumn?: string;
  /** Index tables: rows per unit for files without row groups (default 65,536). */
  chunkRows?: number;
  /** Local prefixes a remote index may name (see `@streams/index`'s `allowUrls`). */
  allowUrls?: readonly string[];
}

/** The knobs of {@link FormatKnobs}, for copying them between option objects. */
export const FORMAT_KNOBS = [
  'format',
  'urlColumns',
  'columnsToDownload',
  'alternatives',
  'sizeColumn',
  'hashColumn',
  'chunkRows',
  'allowUrls',
] as const;

/** Options of one stream (a dataset or sub-dataset) mixed into a StreamingDataset. */
export interface StreamOptions extends FormatKnobs {
  /** A name for messages, events and shares; defaults to `stream <index>`. */
  name?: string;
  /** Where the stream's shards live (`s3://`, `gs://`, `https://`, `file:` or a path). */
  remote?: string;
  /** Local directory of the shards (read in place when there is no `remote`). */
  local?: string;
  /** Sub-directory of `remote` and `local` to read, e.g. `train`. */
  split?: string;
  /** Relative weight: this stream's share of the epoch. Exclusive with `repeat` and `choose`. */
  proportion?: number;
  /** Absolute weight: how many times each sample is seen per epoch (may be fractional). */
  repeat?: number;
  /** Absolute weight: exactly this many samples per epoch (a count like `1000` or `"1.5k"`). */
  choose?: number | string;
  /** Download re-attempts before failing; inherits the dataset default, else the fetch engine's (5). */
  downloadRetry?: number;
  /**
   * Time one download attempt may take: seconds as a number (MosaicML's `download_timeout: 60`), or
   * a string with a unit (`"500ms"`, `"60s"`, `"2m"`); inherits the dataset default, else the fetch engine's.
   */
  downloadTimeout?: number | string;
  /** Hash algorithm to check shards with (e.g. `sha1`, `xxh64`); inherits when unset. */
  validateHash?: string;
  /** Keep the compressed shard beside the decompressed one; inherits when unset. */
  keepCompressed?: boolean;
}

/** Knobs a dataset gives to streams that leave them unset. */
export interface StreamDefaults extends FormatKnobs {
  /** Default remote (or the only stream's remote). */
  remote?: string;
  /** Default local directory (or the only stream's). */
  local?: string;
  split?: string;
  downloadRetry?: number;
  /** Seconds as a number, or a string with a unit (`"500ms"`, `"60s"`). */
  downloadTimeout?: number | string;
  validateHash?: string;
  keepCompressed?: boolean;
}

/** A validated stream configuration; `choose` is already parsed to an integer. */
export interface Stream extends Readonly<FormatKnobs> {
  readonly name: string | undefined;
  readonly remote: string | undefined;
  readonly local: string | undefined;
  readonly split: string | undefined;
  readonly proportion: number | undefined;
  readonly repeat: number | undefined;
  readonly choose: number | undefined;
  readonly downloadRetry: number | undefined;
  /** Milliseconds. */
  readonly downloadTimeout: number | undefined;
  readonly validateHash: string | undefined;
  readonly keepCompressed: boolean | undefined;
}

// Retries and timeouts left unset keep the fetch engine's own (more patient) defaults.
const DEFAULT_KNOBS = {
  downloadRetry: undefined,
  downloadTimeout: undefined,
  validateHash: undefined,
  keepCompressed: false,
} as const;

/**
 * Declares a stream with MosaicML `streaming` weight semantics: at most one of `proportion`,
 * `repeat` and `choose`. Knobs left unset inherit the dataset's defaults ({@link applyStreamDefaults}).
 */
export function Stream(options: StreamOptions = {}, index?: number): Stream {
  const label = streamLabel(options.name, index);
  const given = (['proportion', 'repeat', 'choose'] as const).filter(
    (k) => options[k] !== undefined,
  );
  if (given.length > 1) {
    throw configError(
      label,
      given.join(' and '),
      `give at most one of proportion, repeat and choose (got ${given.join(', ')})`,
      'keep one weight; the others are derived from it',
    );
  }
  const nonNegative = (field: string, value: number | undefined) => {
    if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
      throw configError(
        label,
        field,
        `must be a finite number >= 0, got ${value}`,
        `set ${field} to a non-negative number`,
      );
    }
  };
  nonNegative('proportion', options.proportion);
  nonNegative('repeat', options.repeat);
  const choose =
    options.choose === undefined ? undefined : parseCount(options.choose, `${label}.choose`);
  if (
    options.downloadRetry !== undefined &&
    !(Number.isInteger(options.downloadRetry) && options.downloadRetry >= 0)
  ) {
    throw configError(
      label,
      'downloadRetry',
      `must be an integer >= 0, got ${options.downloadRetry}`,
      'set downloadRetry to 0 or more',
    );
  }
  return Object.freeze({
    name: options.name,
    remote: options.remote,
    local: options.local,
    split: options.split,
    proportion: options.proportion,
    repeat: options.repeat,
    choose,
    downloadRetry: options.downloadRetry,
    downloadTimeout:
      options.downloadTimeout === undefined
        ? undefined
        : parseDuration(options.downloadTimeout, `${label}.downloadTimeout`),
    validateHash: options.validateHash,
    keepCompressed: options.keepCompressed,
    ...Object.fromEntries(FORMAT_KNOBS.map((k) => [k, options[k]])),
  });
}

/** Fills a stream's unset knobs from the dataset defaults (MosaicML `apply_default`). */
export function applyStreamDefaults(
  stream: Stream,
  defaults: StreamDefaults,
  index: number,
): Stream {
  const remote = stream.remote ?? (stream.local === undefined ? defaults.remote : undefined);
  const local = stream.local ?? (stream.remote === undefined ? defaults.local : undefined);
  if (remote === undefined && local === undefined) {
    throw configError(
      streamLabel(stream.name, index),
      'remote',
      'has neither remote nor local',
      'give the stream a remote (s3://, gs://, https://, file:) or a local directory',
    );
  }
  return Object.freeze({
    ...stream,
    remote,
    local,
    split: stream.split ?? defaults.split,
    downloadRetry: stream.downloadRetry ?? defaults.downloadRetry ?? DEFAULT_KNOBS.downloadRetry,
    downloadTimeout:
      stream.downloadTimeout ??
      (defaults.downloadTimeout === undefined
        ? DEFAULT_KNOBS.downloadTimeout
        : parseDuration(defaults.downloadTimeout, 'downloadTimeout')),
    validateHash: stream.validateHash ?? defaults.validateHash ?? DEFAULT_KNOBS.validateHash,
    keepCompressed:
      stream.keepCompressed ?? defaults.keepCompressed ?? DEFAULT_KNOBS.keepCompressed,
    ...Object.fromEntries(FORMAT_KNOBS.map((k) => [k, stream[k] ?? defaults[k]])),
  });
}

/** The weights of a stream that {@link resolveWeights} reads. */
export type StreamWeightSpec = Pick<Stream, 'name' | 'proportion' | 'repeat' | 'choose'>;

/** Each stream's derived weights for an epoch, as MosaicML `apply_weights` computes them. */
export interface ResolvedWeights {
  /** Samples drawn from each stream per epoch. */
  choose: number[];
  /** choose / underlying samples. */
  repeat: number[];
  /** choose / epoch size. */
  proportion: number[];
  /** Total samples per epoch (sum of choose). */
  epochSize: number;
  /** True when the streams were weighted by `proportion`. */
  relative: boolean;
}

/**
 * Derives how many samples each stream contributes per epoch (MosaicML semantics):
 * - `proportion` on every stream: `epochSize` (default: total underlying samples) is split in
 *   proportion; the rounding shortfall goes to streams picked by a seeded choice.
 * - no weights and an `epochSize`: streams contribute in proportion to their size.
 * - no weights and no `epochSize`: every sample once.
 * - `repeat` / `choose` (absolute): `floor(repeat * samples)` or `choose`; unweighted streams
 *   contribute each sample once; `epochSize` is then an error.
 */
export function resolveWeights(
  streams: readonly StreamWeightSpec[],
  samplesPerStream: readonly number[],
  options: { epochSize?: number | string | undefined; seed: number },
): ResolvedWeights {
  if (streams.length === 0) {
    throw new StreamsError('STREAMS_INVALID_CONFIG', '[streams/multistream] no streams given', {
      fix: 'pass at least one Stream (or a remote/local on the dataset)',
    });
  }
  if (samplesPerStream.length !== streams.length) {
    throw new StreamsError(
      'STREAMS_INTERNAL',
      `[streams/multistream] ${streams.length} streams but ${samplesPerStream.length} sample counts`,
    );
  }
  const epochSize =
    options.epochSize === undefined ? undefined : parseCount(options.epochSize, 'epochSize');
  const relative = streams[0]!.proportion !== undefined;
  let unspecified = true;
  streams.forEach((s, i) => {
    const has = [s.proportion, s.repeat, s.choose].filter((w) => w !== undefined).length;
    const label = streamLabel(s.name, i);
    if (has > 1) {
      throw configError(
        label,
        'proportion',
        'gives more than one of proportion, repeat and choose',
        'keep one weight per stream',
      );
    }
    if ((s.proportion !== undefined) !== relative) {
      throw configError(
        label,
        s.proportion !== undefined
          ? 'proportion'
          : (['repeat', 'choose'].find((k) => s[k as 'repeat'] !== undefined) ?? 'proportion'),
        'mixes relative (proportion) and absolute (repeat, choose or none) weights across streams',
        'give every stream a proportion, or none of them',
      );
    }
    if (has > 0) unspecified = false;
    const n = samplesPerStream[i]!;
    if (!(Number.isSafeInteger(n) && n >= 0)) {
      throw new StreamsError('STREAMS_INTERNAL', `[streams/multistream] bad sample count ${n}`, {
        stream: label,
      });
    }
  });

  const n = streams.length;
  let choose: number[];
  if (relative || (unspecified && epochSize !== undefined && epochSize > 0)) {
    const total =
      epochSize && epochSize > 0 ? epochSize : samplesPerStream.reduce((a, b) => a + b, 0);
    const raw = relative ? streams.map((s) => s.proportion!) : [...samplesPerStream];
    const sum = raw.reduce((a, b) => a + b, 0);
    if (!(sum > 0)) {
      throw configError(
        streamLabel(streams[0]!.name, 0),
        relative ? 'proportion' : 'samples',
        relative ? 'proportions sum to 0' : 'all streams are empty',
        relative
          ? 'give at least one stream a positive proportion'
          : 'check the streams point at data',
      );
    }
    choose = raw.map((w) => Math.floor((total * w) / sum));
    const shortfall = total - choose.reduce((a, b) => a + b, 0);
    // A seeded choice (not "largest remainder") as MosaicML does, so no stream is favored systematically.
    for (const i of rng(options.seed, 'weights', 'shortfall').sample(n, Math.min(shortfall, n))) {
      choose[i]! += 1;
    }
    choose.forEach((c, i) => {
      if (c > 0 && samplesPerStream[i] === 0) {
        throw configError(
          streamLabel(streams[i]!.name, i),
          relative ? 'proportion' : 'samples',
          'asks for samples but the stream is empty',
          'check the stream location or drop its weight',
        );
      }
    });
  } else {
    if (epochSize !== undefined && epochSize > 0) {
      throw configError(
        'dataset',
        'epochSize',
        'cannot be combined with absolute weights (repeat, choose)',
        'use proportion on every stream with epochSize, or drop epochSize',
      );
    }
    choose = streams.map((s, i) => {
      const samples = samplesPerStream[i]!;
      let c: number;
      if (s.repeat !== undefined) c = Math.floor(s.repeat * samples + 1e-9);
      else if (s.choose !== undefined) c = s.choose;
      else c = samples;
      if (c > 0 && samples === 0) {
        throw configError(
          streamLabel(s.name, i),
          s.choose !== undefined ? 'choose' : 'repeat',
          'asks for samples but the stream is empty',
          'check the stream location or drop its weight',
        );
      }
      return c;
    });
  }
  const total = choose.reduce((a, b) => a + b, 0);
  return {
    choose,
    repeat: choose.map((c, i) => (samplesPerStream[i]! === 0 ? 0 : c / samplesPerStream[i]!)),
    proportion: choose.map((c) => (total === 0 ? 0 : c / total)),
    epochSize: total,
    relative,
  };
}

const SUFFIX: Record<string, number> = { k: 1e3, m: 1e6, b: 1e9, g: 1e9, t: 1e12 };

/** Parses a sample count: an integer, or a shorthand like `"10k"`, `"1.5M"`, `"2b"`. */
export function parseCount(value: number | string, field: string): number {
  let n: number | undefined;
  if (typeof value === 'number') n = value;
  else {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([kmbgt])?\s*$/i.exec(value);
    if (m) n = Number(m[1]) * (m[2] ? SUFFIX[m[2].toLowerCase()]! : 1);
  }
  if (n === undefined || !Number.isSafeInteger(n) || n < 0) {
    throw new StreamsError(
      'STREAMS_INVALID_CONFIG',
      `[streams/multistream] ${field}: "${value}" is not a sample count`,
      { fix: 'give a non-negative integer or a shorthand like "10k", "1.5m"' },
    );
  }
  return n;
}

export function streamLabel(name: string | undefined, index: number | undefined): string {
  if (name !== undefined) return name;
  return index === undefined ? 'stream' : `streams[${index}]`;
}

function configError(label: string, field: string, what: string, fix: string): StreamsError {
  return new StreamsError(
    'STREAMS_INVALID_CONFIG',
    `[streams/multistream] ${label}.${field} ${what}`,
    { stream: label, fix },
  );
}
