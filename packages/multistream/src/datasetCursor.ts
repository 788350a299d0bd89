// Where a StreamingDataset stands in its order: the plan options, the epoch, the global samples
// seen and (with a schedule) the scheduled order. It builds the epoch plan (refusing one too large
// before allocating it), cuts this rank's part of it, lists what the rank has read, and saves and
// restores the resume state (whose fields datasetState.ts checks).
import { formatBytes, parseBytes, StreamsError, type World } from '@streams/core';
import { type Table, tableFromArrays } from 'apache-arrow';
import type { StreamingDatasetOptions } from './datasetOptions.js';
import { checkPosition, checkState, type DatasetState } from './datasetState.js';
import {
  buildEpochPlan,
  type EpochPlan,
  locateSample,
  PLAN_BYTES_PER_SAMPLE,
  PLAN_VERSION,
  type PlanConfig,
} from './epochPlan.js';
import { type PlanSlice, partitionPlan } from './partition.js';
import { MAX_SAMPLES } from './resample.js';
import { ScheduledOrder } from './scheduledOrder.js';
import type { ResolvedWeights } from './stream.js';
import type { OpenStream } from './unitLoader.js';

/** The seed of a dataset opened without one. */
export const DEFAULT_SEED = 9176;

/** The options the order depends on. */
export type CursorOptions = Pick<
  StreamingDatasetOptions<unknown>,
  | 'seed'
  | 'replication'
  | 'numCanonicalNodes'
  | 'shuffle'
  | 'order'
  | 'interleaveRun'
  | 'shuffleAlgorithm'
  | 'shuffleBlockSize'
  | 'sampling'
  | 'batching'
  | 'batchSize'
  | 'planMemory'
  | 'schedule'
  | 'scheduleStepSize'
  | 'dropLast'
  | 'numWorkers'
  | 'worker'
>;

/**
 * The dataset's position in its order (epoch, global samples seen) and the order itself: the
 * epoch plan, built lazily per epoch, or the endless scheduled sequence.
 */
export class DatasetCursor {
  readonly seed: number;
  /** The time-varying order, when the dataset mixes by a schedule. */
  readonly scheduled: ScheduledOrder | undefined;
  /** Global samples consumed this epoch (a position in the epoch's global order). */
  samplesSeen = 0;
  readonly #o: CursorOptions;
  readonly #world: World;
  #planConfig: Omit<PlanConfig, 'numCanonicalNodes'>;
  #numCanonicalNodes: number;
  readonly #canonicalExplicit: boolean;
  #epoch = 0;
  #plan: EpochPlan | undefined;

  constructor(
    o: CursorOptions,
    streams: readonly OpenStream[],
    weights: ResolvedWeights,
    w: World,
  ) {
    this.#o = o;
    this.#world = w;
    this.seed = o.seed ?? DEFAULT_SEED;
    const width = w.worldSize / (o.replication ?? 1);
    this.#canonicalExplicit = o.numCanonicalNodes !== undefined;
    this.#numCanonicalNodes = o.numCanonicalNodes ?? Math.max(1, Math.floor(width));
    this.#planConfig = {
      streams: streams.map((s) => ({ shardSizes: s.unitSizes })),
      choose: weights.choose,
      seed: this.seed,
      order: o.shuffle === false ? 'sequential' : (o.order ?? 'shuffle'),
      interleaveRun: o.interleaveRun,
      shuffleAlgorithm: o.shuffleAlgorithm,
      shuffleBlockSize: o.shuffleBlockSize,
      sampling: o.sampling,
      batching: o.batching,
      globalBatchSize: (o.batchSize ?? 1) * Math.floor(width),
    };
    checkPlanSize(streams, weights, o);
    const stepSize = o.scheduleStepSize ?? (o.batchSize ?? 1) * Math.floor(width);
    if (o.schedule && o.schedule.size !== streams.length) {
      throw new StreamsError(
        'STREAMS_INVALID_CONFIG',
        `[streams/multistream] schedule gives ${o.schedule.size} weights for ${streams.length} streams`,
        {
          fix: 'give the schedule one weight per stream, in stream order',
        },
      );
    }
    if (!(Number.isInteger(stepSize) && stepSize >= 1)) {
      throw new StreamsError(
        'STREAMS_INVALID_CONFIG',
        `[streams/multistream] scheduleStepSize must be an integer >= 1, got ${stepSize}`,
        {
          fix: 'set scheduleStepSize to the samples per training step of the whole job',
        },
      );
    }
    if (o.schedule) {
      let first = 0;
      this.scheduled = new ScheduledOrder(
        o.schedule,
        {
          samples: streams.map((s) => s.numSamples),
          labels: streams.map((s) => s.label),
          offsets: streams.map((s) => {
            const at = first;
            first += s.numSamples;
            return at;
          }),
          plan: this.#planConfig,
        },
        this.seed,
        stepSize,
      );
    }
  }

  /** Current epoch. */
  get epoch(): number {
    return this.#epoch;
  }

  /** True when the plan reads every stream in order (no shuffle). */
  get sequential(): boolean {
    return this.#planConfig.order === 'sequential';
  }

  /** Starts epoch `e` from its beginning. */
  setEpoch(e: number): void {
    if (!(Number.isSafeInteger(e) && e >= 0)) {
      throw new StreamsError(
        'STREAMS_INVALID_ARGUMENT',
        `[streams/multistream] setEpoch needs an integer >= 0, got ${e}`,
        {
          fix: 'count epochs from 0',
        },
      );
    }
    if (e !== this.#epoch) this.#plan = undefined;
    this.#epoch = e;
    this.samplesSeen = 0;
  }

  /** The current epoch is read to its end: the next one starts. */
  nextEpoch(): void {
    this.#epoch++;
    this.samplesSeen = 0;
    this.#plan = undefined;
  }

  /** The resume state: epoch, global samples seen, seed, canonical nodes, plan version. */
  stateDict(): DatasetState {
    return {
      version: PLAN_VERSION,
      epoch: this.#epoch,
      samplesSeen: this.samplesSeen,
      seed: this.seed,
      numCanonicalNodes: this.#numCanonicalNodes,
      schedulePosition: this.scheduled ? Math.floor(this.samplesSeen / this.scheduled.stepSize) : 0,
      ...(this.scheduled ? { scheduleStepSize: this.scheduled.stepSize } : {}),
      ...((this.#planConfig.batching ?? 'random') !== 'random'
        ? { globalBatchSize: this.#planConfig.globalBatchSize }
        : {}),
    };
  }

  /** Continues from a saved state (checked first), under this process's world. */
  loadStateDict(state: DatasetState): void {
    checkState(state, {
      seed: this.seed,
      numCanonicalNodes: this.#canonicalExplicit ? this.#numCanonicalNodes : undefined,
      scheduled: this.scheduled !== undefined,
    });
    if (this.scheduled) {
      // The scheduled sequence is endless: adopt the saved step size and position.
      this.scheduled.setStepSize(state.scheduleStepSize!);
      this.#numCanonicalNodes = state.numCanonicalNodes;
      this.#epoch = state.epoch;
      this.samplesSeen = state.samplesSeen;
      return;
    }
    // Stratified and perStream orders are composed in global batches: keep the saved size so a
    // resume under another world continues the same order.
    if (
      state.globalBatchSize !== undefined &&
      state.globalBatchSize !== this.#planConfig.globalBatchSize
    ) {
      this.#planConfig = { ...this.#planConfig, globalBatchSize: state.globalBatchSize };
      this.#plan = undefined;
    }
    if (state.numCanonicalNodes !== this.#numCanonicalNodes || state.epoch !== this.#epoch)
      this.#plan = undefined;
    this.#numCanonicalNodes = state.numCanonicalNodes;
    this.#epoch = state.epoch;
    checkPosition(state, this.plan().ids.length);
    this.samplesSeen = state.samplesSeen;
  }

  /** The epoch plan (global order of sample ids) of the current epoch, built once per epoch. */
  plan(): EpochPlan {
    if (this.#plan?.epoch !== this.#epoch) {
      this.#plan = buildEpochPlan(
        { ...this.#planConfig, numCanonicalNodes: this.#numCanonicalNodes },
        this.#epoch,
      );
    }
    return this.#plan;
  }

  /** This rank's and worker's part of the current epoch from global position `start`. */
  slice(start = this.samplesSeen): PlanSlice {
    return this.partition(this.plan().ids, { start, dropLast: this.#o.dropLast });
  }

  /** This rank's and worker's part of `order`, under the dataset's world and batching. */
  partition(order: Uint32Array, o: { start?: number; dropLast: boolean | undefined }): PlanSlice {
    return partitionPlan(order, {
      worldSize: this.#world.worldSize,
      rank: this.#world.rank,
      replication: this.#o.replication,
      batchSize: this.#o.batchSize,
      numWorkers: this.#o.numWorkers,
      worker: this.#o.worker,
      ...o,
    });
  }

  /** Metadata of the samples this rank has read this epoch (or, with a schedule, so far), as an Arrow table. */
  readTable(): Table {
    const plan = this.plan();
    // With a schedule the sequence is endless: rebuild its prefix up to the current position.
    const slice = this.scheduled
      ? this.partition(this.scheduled.ids(0, this.samplesSeen), { dropLast: true })
      : this.slice(0);
    let count = 0;
    while (count < slice.positions.length && slice.positions[count]! < this.samplesSeen) count++;
    const id = slice.ids.slice(0, count); // [count]
    const stream = new Int32Array(count); // [count]
    const shard = new Int32Array(count); // [count]
    const index = new Int32Array(count); // [count]
    for (let k = 0; k < count; k++) {
      const loc = locateSample(plan, id[k]!);
      stream[k] = loc.stream;
      shard[k] = loc.shard;
      index[k] = loc.index;
    }
    return tableFromArrays({
      position: slice.positions.slice(0, count),
      sample: id,
      stream,
      shard,
      index,
      padding: Uint8Array.from(slice.padding.subarray(0, count)),
    });
  }
}

/**
 * Refuses, before any plan is allocated, an epoch the 32-bit plan cannot index or whose plan would
 * take more than `planMemory`: the sample counts come from the streams' indexes, which may be remote.
 */
function checkPlanSize(
  streams: readonly OpenStream[],
  weights: ResolvedWeights,
  o: { planMemory?: number | string; schedule?: unknown },
): void {
  const underlying = streams.reduce((a, s) => a + s.numSamples, 0);
  const tooMany =
    underlying > MAX_SAMPLES
      ? 'underlying samples'
      : weights.epochSize > MAX_SAMPLES
        ? 'samples in an epoch'
        : undefined;
  if (tooMany !== undefined) {
    throw new StreamsError(
      'STREAMS_NOT_IMPLEMENTED',
      `[streams/multistream] ${Math.max(underlying, weights.epochSize)} ${tooMany}: the plan holds at most 2^32`,
      { fix: 'split the data into several StreamingDatasets, or draw fewer samples per epoch' },
    );
  }
  // A schedule also plans each stream's own order.
  const planned = weights.epochSize + (o.schedule ? underlying : 0);
  const limit = parseBytes(o.planMemory ?? '4gib', 'planMemory');
  if (planned * PLAN_BYTES_PER_SAMPLE > limit) {
    throw new StreamsError(
      'STREAMS_INVALID_CONFIG',
      `[streams/multistream] planning ${planned} samples takes about ${formatBytes(planned * PLAN_BYTES_PER_SAMPLE)}, more than planMemory (${formatBytes(limit)})`,
      {
        fix: 'raise planMemory if the machine has the memory, or draw fewer samples per epoch (epochSize, choose)',
      },
    );
  }
}
