import { rng, StreamsError } from '@streams/core';
import {
  MAX_SAMPLES,
  type ResampledStream,
  resampleStream,
  type SamplingMethod,
} from './resample.js';
import {
  type ShuffleAlgorithm,
  type ShuffledOrder,
  sequentialOrder,
  shuffleUnits,
} from './shuffle.js';

/**
 * Peak bytes per planned sample while an epoch plan is built: resampled ids, the shuffled order,
 * the shuffle's scratch (two arrays) and the plan itself, 4 bytes each, plus this rank's slice.
 */
export const PLAN_BYTES_PER_SAMPLE = 24;

/** Bumped whenever the plan algorithm changes the order for the same inputs. Saved in states. */
export const PLAN_VERSION = 1;

/** Sample order of an epoch. */
export type OrderMode = 'shuffle' | 'fixed' | 'sequential' | 'interleave';

/**
 * How global batches are composed: `random` (one order over all streams), `stratified` (every
 * global batch mixes streams in their epoch proportions), `perStream` (every global batch comes
 * from one stream).
 */
export type BatchingMethod = 'random' | 'stratified' | 'perStream';

/** A stream as the plan sees it: its shards' sample counts. */
export interface PlanStream {
  shardSizes: readonly number[];
}

/** Everything the epoch order depends on. The plan is a pure function of this and the epoch. */
export interface PlanConfig {
  streams: readonly PlanStream[];
  /** Samples drawn from each stream per epoch ({@link resolveWeights}). */
  choose: readonly number[];
  seed: number;
  /** Default `shuffle`. */
  order?: OrderMode;
  /** Run length K of `interleave` order: K consecutive samples per stream. Default 1. */
  interleaveRun?: number;
  /** Default `py1e`. */
  shuffleAlgorithm?: ShuffleAlgorithm;
  /** Default 262144 (MosaicML's 1 << 18). */
  shuffleBlockSize?: number;
  /** Shard groups dealt to ranks; part of the order, so saved in the state. Default 1. */
  numCanonicalNodes?: number;
  /** Default `balanced`. */
  sampling?: SamplingMethod;
  /** Default `random`. */
  batching?: BatchingMethod;
  /** Samples per global batch (batch size x data-parallel ranks); `stratified`/`perStream` need it. */
  globalBatchSize?: number;
}

/** The global order of one epoch: every rank of any world reads its share from this sequence. */
export interface EpochPlan {
  epoch: number;
  /** Global sample ids (stream samples laid end to end, stream by stream) in plan order. */
  ids: Uint32Array; // [epoch length]
  /** First global sample id of each stream, plus the total: stream s owns [offsets[s], offsets[s+1]). */
  streamOffsets: readonly number[];
  /** First global sample id of each shard of each stream, plus the stream end. */
  shardOffsets: readonly (readonly number[])[];
  /** Resampled samples left out because a batching method needs whole batches. */
  dropped: number;
}

/** Builds the epoch's global order: resample by weights, shuffle in blocks, compose batches. */
export function buildEpochPlan(config: PlanConfig, epoch: number): EpochPlan {
  const streams = config.streams;
  if (config.choose.length !== streams.length) {
    throw new StreamsError(
      'STREAMS_INTERNAL',
      '[streams/multistream] choose and streams differ in length',
    );
  }
  if (!(Number.isSafeInteger(epoch) && epoch >= 0)) {
    throw invalid('epoch', `must be an integer >= 0, got ${epoch}`, 'count epochs from 0');
  }
  if (config.choose.reduce((a, b) => a + b, 0) > MAX_SAMPLES) {
    throw new StreamsError(
      'STREAMS_NOT_IMPLEMENTED',
      '[streams/multistream] more than 2^32 samples in an epoch',
      { fix: 'draw fewer samples per epoch (epochSize, choose, repeat)' },
    );
  }
  const order = config.order ?? 'shuffle';
  const batching = config.batching ?? 'random';
  const C = config.numCanonicalNodes ?? 1;
  const sampling = config.sampling ?? 'balanced';
  const shuffleOpts = {
    algorithm: config.shuffleAlgorithm ?? 'py1e',
    numCanonicalNodes: C,
    seed: config.seed,
    epoch: order === 'fixed' ? 0 : epoch,
    blockSize: config.shuffleBlockSize ?? 1 << 18,
  };
  const streamOffsets = [0];
  const shardOffsets: number[][] = [];
  for (const s of streams) {
    const start = streamOffsets[streamOffsets.length - 1]!;
    const offs = [start];
    for (const size of s.shardSizes) offs.push(offs[offs.length - 1]! + size);
    shardOffsets.push(offs);
    streamOffsets.push(offs[offs.length - 1]!);
  }
  const resampled = streams.map((s, i) =>
    resampleStream(s.shardSizes, streamOffsets[i]!, config.choose[i]!, {
      seed: config.seed,
      epoch,
      stream: i,
      sampling,
    }),
  );

  // One stream's (or all streams') resampled slots in plan order.
  const arrange = (
    parts: ResampledStream[],
    purpose: string | number,
    canonical: number,
  ): Uint32Array => {
    const unitSizes = parts.flatMap((p) => p.unitSizes);
    const total = unitSizes.reduce((a, b) => a + b, 0);
    // Identity resampling (every sample once) needs no lookup table: slot x is sample base + x.
    const identity = parts.every((p) => p.identity);
    const map = identity
      ? parts.length === 1
        ? (parts[0]!.ids[0] ?? 0)
        : 0
      : parts.length === 1
        ? parts[0]!.ids
        : concat(
            parts.map((p) => p.ids),
            total,
          );
    const shuffled =
      order === 'sequential'
        ? sequentialOrder(total, 1)
        : shuffleUnits(unitSizes, { ...shuffleOpts, numCanonicalNodes: canonical, purpose });
    return interleaveCanonical(shuffled, map);
  };

  let ids: Uint32Array;
  let dropped = 0;
  if (order === 'interleave') {
    if (batching !== 'random') {
      throw invalid(
        'batching',
        `"${batching}" cannot be combined with order "interleave"`,
        'use batching "random" with interleave',
      );
    }
    const run = config.interleaveRun ?? 1;
    if (!(Number.isInteger(run) && run >= 1)) {
      throw invalid(
        'interleaveRun',
        `must be an integer >= 1, got ${run}`,
        'set interleaveRun to the run length K',
      );
    }
    ids = interleaveRuns(
      resampled.map((p, s) => arrange([p], s, 1)),
      run,
    );
  } else if (batching === 'random') {
    ids = arrange(resampled, 'all', C);
  } else {
    const g = config.globalBatchSize;
    if (g === undefined || !(Number.isInteger(g) && g >= 1)) {
      throw invalid(
        'globalBatchSize',
        `must be an integer >= 1 for batching "${batching}", got ${g}`,
        'set batchSize on the dataset',
      );
    }
    const perStream = resampled.map((p, s) => arrange([p], s, C));
    if (batching === 'stratified') ({ ids, dropped } = stratify(perStream, g));
    else
      ({ ids, dropped } = perStreamBatches(
        perStream,
        g,
        config.seed,
        order === 'fixed' ? 0 : epoch,
      ));
  }
  return { epoch, ids, streamOffsets, shardOffsets, dropped };
}

/**
 * Reads C canonical segments round robin: position p holds segment (p mod C)'s (p div C)-th
 * sample. Any rank layout whose data-parallel width divides C then reads each segment (its
 * shards) from a single rank, which is what keeps downloads local.
 */
function interleaveCanonical(s: ShuffledOrder, map: Uint32Array | number): Uint32Array {
  const { order, bounds } = s;
  const C = bounds.length - 1;
  const n = order.length;
  if (C === 1 && map === 0) return order; // identity resampling: the order is the plan
  const out = new Uint32Array(n); // [N]
  if (C === 1) {
    if (typeof map === 'number') for (let i = 0; i < n; i++) out[i] = map + order[i]!;
    else for (let i = 0; i < n; i++) out[i] = map[order[i]!]!;
    return out;
  }
  let maxLen = 0;
  for (let c = 0; c < C; c++) maxLen = Math.max(maxLen, bounds[c + 1]! - bounds[c]!);
  let p = 0;
  for (let row = 0; row < maxLen; row++) {
    for (let c = 0; c < C; c++) {
      const at = bounds[c]! + row;
      if (at < bounds[c + 1]!) {
        const x = order[at]!;
        out[p++] = typeof map === 'number' ? map + x : map[x]!;
      }
    }
  }
  return out;
}

/**
 * Runs of `run` samples per stream, streams scheduled by stride scheduling (the stream whose
 * next run is due earliest, relative to its run count, goes next), so shares hold all epoch long.
 */
function interleaveRuns(perStream: Uint32Array[], run: number): Uint32Array {
  const total = perStream.reduce((a, p) => a + p.length, 0);
  const out = new Uint32Array(total); // [N]
  const runs = perStream.map((p) => Math.ceil(p.length / run));
  const done = perStream.map(() => 0);
  let o = 0;
  for (;;) {
    let best = -1;
    let bestDue = Number.POSITIVE_INFINITY;
    for (let s = 0; s < perStream.length; s++) {
      if (done[s]! >= runs[s]!) continue;
      const due = (done[s]! + 0.5) / runs[s]!;
      if (due < bestDue) {
        bestDue = due;
        best = s;
      }
    }
    if (best < 0) break;
    const src = perStream[best]!;
    const from = done[best]! * run;
    const to = Math.min(from + run, src.length);
    out.set(src.subarray(from, to), o);
    o += to - from;
    done[best]! += 1;
  }
  return out;
}

/** Global batches with a fixed portion per stream (largest remainder of its share). */
function stratify(perStream: Uint32Array[], g: number): { ids: Uint32Array; dropped: number } {
  const total = perStream.reduce((a, p) => a + p.length, 0);
  if (total === 0) return { ids: new Uint32Array(0), dropped: 0 };
  const exact = perStream.map((p) => (p.length / total) * g);
  const portion = exact.map(Math.floor);
  const order = exact
    .map((e, i) => [e - Math.floor(e), i] as const)
    .sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  let missing = g - portion.reduce((a, b) => a + b, 0);
  for (const [, i] of order) {
    if (missing-- <= 0) break;
    portion[i]! += 1;
  }
  portion.forEach((n, s) => {
    if (n === 0 && perStream[s]!.length > 0) {
      throw new StreamsError(
        'STREAMS_INVALID_CONFIG',
        `[streams/multistream] stratified batching gives stream ${s} no sample in a global batch of ${g}`,
        {
          stream: s,
          fix: 'raise the batch size or the stream weight, or use batching "random"',
        },
      );
    }
  });
  let batches = Number.POSITIVE_INFINITY;
  perStream.forEach((p, s) => {
    if (portion[s]! > 0) batches = Math.min(batches, Math.floor(p.length / portion[s]!));
  });
  const ids = new Uint32Array(batches * g); // [batches, g]
  let o = 0;
  for (let b = 0; b < batches; b++) {
    for (let s = 0; s < perStream.length; s++) {
      const n = portion[s]!;
      ids.set(perStream[s]!.subarray(b * n, b * n + n), o);
      o += n;
    }
  }
  return { ids, dropped: total - ids.length };
}

/** Whole global batches from one stream each, batch order shuffled per epoch. */
function perStreamBatches(
  perStream: Uint32Array[],
  g: number,
  seed: number,
  epoch: number,
): { ids: Uint32Array; dropped: number } {
  const batches: Array<[stream: number, index: number]> = [];
  let total = 0;
  perStream.forEach((p, s) => {
    total += p.length;
    for (let b = 0; b + g <= p.length; b += g) batches.push([s, b]);
  });
  rng(seed, epoch, 'perStream').shuffle(batches);
  const ids = new Uint32Array(batches.length * g); // [batches, g]
  batches.forEach(([s, b], k) => {
    ids.set(perStream[s]!.subarray(b, b + g), k * g);
  });
  return { ids, dropped: total - ids.length };
}

function concat(parts: Uint32Array[], total: number): Uint32Array {
  const out = new Uint32Array(total); // [N]
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * The last range of `offsets` (n + 1 ascending start offsets of n ranges) that starts at or
 * before `id`: the range holding `id`, past any empty ranges before it. Binary search.
 */
export function rangeOf(offsets: ArrayLike<number>, id: number): number {
  let lo = 0;
  let hi = offsets.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (offsets[mid]! <= id) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Which stream a global sample id belongs to (binary search over stream offsets). */
export function streamOfSample(plan: Pick<EpochPlan, 'streamOffsets'>, id: number): number {
  return rangeOf(plan.streamOffsets, id);
}

/** The (stream, shard, index in shard) of a global sample id. */
export function locateSample(
  plan: Pick<EpochPlan, 'streamOffsets' | 'shardOffsets'>,
  id: number,
): { stream: number; shard: number; index: number } {
  const stream = streamOfSample(plan, id);
  const offs = plan.shardOffsets[stream]!;
  const shard = rangeOf(offs, id);
  return { stream, shard, index: id - offs[shard]! };
}

function invalid(field: string, what: string, fix: string): StreamsError {
  return new StreamsError('STREAMS_INVALID_CONFIG', `[streams/multistream] ${field} ${what}`, {
    fix,
  });
}
