import { setMaxListeners } from 'node:events';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type DiskCache, openCache } from '@streams/cache';
import {
  combineSignals,
  EventHub,
  fnv1a64,
  formatBytes,
  isAbortError,
  isStreamsError,
  parseBytes,
  type Rng,
  world as readWorld,
  rng,
  StreamsError,
  type StreamsEventListener,
  settings,
  signalReason,
  throwIfAborted,
  type World,
  type WorldOptions,
} from '@streams/core';
import { createFetchEngine, defaultEngine, type FetchEngine } from '@streams/downloader';
import {
  decompress,
  hashBytes,
  isRemoteUrl,
  joinUrl,
  type MdsDataset,
  type MdsSample,
  type MdsSchema,
  mdsShardOffsets,
  openMdsDataset,
  parseCompression,
  toLocalPath,
} from '@streams/index';
import { type Table, tableFromArrays } from 'apache-arrow';
import {
  type BatchingMethod,
  buildEpochPlan,
  type EpochPlan,
  locateSample,
  type OrderMode,
  PLAN_BYTES_PER_SAMPLE,
  PLAN_VERSION,
  type PlanConfig,
  rangeOf,
} from './epochPlan.js';
import { type PlanSlice, partitionPlan } from './partition.js';
import { MAX_SAMPLES, type SamplingMethod } from './resample.js';
import { apportion, type Schedule } from './schedule.js';
import { type LoadedShard, ShardPool } from './shardPool.js';
import type { ShuffleAlgorithm } from './shuffle.js';
import {
  applyStreamDefaults,
  type ResolvedWeights,
  resolveWeights,
  Stream,
  type StreamDefaults,
  type StreamOptions,
  streamLabel,
} from './stream.js';

/** Where a sample came from, handed to transforms and returned by {@link StreamingDataset.entries}. */
export interface SampleInfo {
  /** Global sample id (streams laid end to end). */
  id: number;
  stream: number;
  shard: number;
  /** Index of the sample in its shard. */
  index: number;
  epoch: number;
  /** Position in the epoch's global order. */
  position: number;
  /** True when the sample repeats one to pad an uneven tail (see `dropLast`). */
  padding: boolean;
}

/**
 * Turns a raw MDS sample into what the model reads. Same shape as an `@streams/transforms` preset,
 * so `transform: imageClassification({ size: 224 })` works; `rng` is seeded per (seed, epoch, sample).
 */
export type SampleTransform<T> = (
  sample: MdsSample,
  rng: Rng,
  call: {
    signal?: AbortSignal;
    coords?: { stream?: string | number; shard?: string | number; sample?: number };
  },
) => T | Promise<T>;

/** Options of {@link StreamingDataset.open}. */
export interface StreamingDatasetOptions<T> extends StreamDefaults {
  /** The streams to mix; omit to read one stream given by `remote`/`local`. */
  streams?: ReadonlyArray<StreamOptions>;
  /** Samples per epoch (a count or `"10k"`): with proportions, or to subsample unweighted streams. */
  epochSize?: number | string;
  /** Shuffle (default true); `false` is `order: 'sequential'`. */
  shuffle?: boolean;
  /** Order mode (default `shuffle`): see the README. */
  order?: OrderMode;
  /** Run length of `interleave` order. */
  interleaveRun?: number;
  /** Seed of every random choice (default 9176, MosaicML's). */
  seed?: number;
  shuffleAlgorithm?: ShuffleAlgorithm;
  /** Samples per shuffle block (default 262144). */
  shuffleBlockSize?: number;
  /** Shard groups of the order (default: the data-parallel width of the first run; kept in the state). */
  numCanonicalNodes?: number;
  /** Per-rank batch size (default 1). */
  batchSize?: number;
  sampling?: SamplingMethod;
  batching?: BatchingMethod;
  /** Rank layout: a `World`, options for `world()`, or (default) the launcher environment. */
  world?: World | WorldOptions;
  /** N consecutive ranks read the same samples. */
  replication?: number;
  /** Workers per rank and which one this instance is (each reads whole batches round robin). */
  numWorkers?: number;
  worker?: number;
  /** Drop the uneven tail instead of padding it (default false: pad). */
  dropLast?: boolean;
  /** Cache directory for remote shards (default `STREAMS_CACHE_DIR`). */
  cacheDir?: string;
  /** Byte budget of the node cache (default `"20gb"`). */
  cacheLimit?: number | string;
  /** Samples ahead whose shards are fetched (default 8 x batchSize, at least 512). */
  predownload?: number;
  /**
   * Memory the epoch plan may take (default 4 GiB, about 24 bytes per sample of an epoch: 179M
   * samples): an index declaring more samples fails at open instead of exhausting memory.
   */
  planMemory?: number | string;
  /** Memory for shards the window no longer references, kept in case the order returns to them (default 256 MiB). */
  shardMemory?: number | string;
  /** Samples decoded ahead of the consumer (default min(predownload, 2 x batchSize + 8)). */
  decodeAhead?: number;
  transform?: SampleTransform<T>;
  /**
   * What a sample whose transform fails (a truncated JPEG...) does: `error` (default) stops the
   * iteration with a `STREAMS_DECODE_FAILED` error naming the stream, shard and sample; `skip`
   * drops it (counted in `metrics().skipped`, reported as a `decode.skipped` event; the state
   * still moves past it, and `batches()` hands out that batch one sample shorter). A transform
   * resolving to `undefined` (e.g. `guarded(..., { policy: 'skip' })`) is skipped under both.
   */
  decodePolicy?: 'error' | 'skip';
  /**
   * Time-varying mixing: one weight per stream at each step (replaces epochs and static weights:
   * iteration is endless unless `scheduleSteps` is set).
   */
  schedule?: Schedule;
  /** Samples per schedule step, all ranks together (default batchSize x data-parallel ranks; kept in the state). */
  scheduleStepSize?: number;
  /** Stop after this many schedule steps (default: never). */
  scheduleSteps?: number;
  /** Receives progress and metric events. */
  onEvent?: StreamsEventListener;
  /**
   * Fetch engine for remote shards. Default: the downloader's shared engine, or for streams that
   * set `downloadRetry`/`downloadTimeout`, an engine with those attempts and attempt timeout.
   */
  engine?: FetchEngine;
  /** Aborts opening and every read for the dataset's lifetime (per iteration: `entries({ signal })`). */
  signal?: AbortSignal;
}

/** The resumable state: a few integers. */
export interface DatasetState {
  version: number;
  epoch: number;
  /** Global samples consumed this epoch (a position in the epoch's global order). */
  samplesSeen: number;
  seed: number;
  numCanonicalNodes: number;
  /** Step of a time-varying schedule (0 when none). */
  schedulePosition: number;
  /** Samples per schedule step (only with a schedule). */
  scheduleStepSize?: number;
  /** Samples per global batch that composed the order (only with stratified or perStream batching). */
  globalBatchSize?: number;
}

/** What {@link StreamingDataset.metrics} reports. */
export interface DatasetMetrics {
  samples: number;
  /** Samples dropped by the `skip` decode policy. */
  skipped: number;
  samplesPerSecond: number;
  /** Milliseconds the consumer waited for data, and that share of the wall time. */
  waitMs: number;
  starvation: number;
  cacheHits: number;
  cacheMisses: number;
  cacheHitRate: number;
  /** Evictions this process made in the node cache, and the cache's bytes in use (remote streams only). */
  cacheEvictions: number;
  cacheBytesInUse: number;
  /** Shards waiting for budget, and shards downloading or in memory. */
  queueDepth: number;
  activeShards: number;
  /** Per stream: the target share of the epoch and the share read so far by this rank. */
  shares: Array<{ stream: string; target: number; actual: number }>;
}

interface OpenStream {
  label: string;
  stream: Stream;
  mds: MdsDataset;
  /** Base URL or path holding index.json (split applied). */
  base: string;
  remote: boolean;
  cacheKeyPrefix: string;
}

const DEFAULT_SEED = 9176;

/**
 * A deterministic, resumable, elastic dataset over weighted MDS streams: local directories or
 * remote (s3://, gs://, https://) shards fetched through `@streams/downloader` into the node's
 * `@streams/cache`, mixed, shuffled and partitioned over the job's ranks by the epoch plan.
 */
export class StreamingDataset<T = MdsSample> implements AsyncDisposable {
  readonly streams: readonly Stream[];
  readonly weights: ResolvedWeights;
  readonly world: World;
  readonly events = new EventHub('multistream');
  readonly #o: StreamingDatasetOptions<T>;
  readonly #streams: OpenStream[];
  readonly #cache: DiskCache | undefined;
  readonly #engine: FetchEngine | undefined;
  readonly #engines = new Map<string, FetchEngine>();
  readonly #pool: ShardPool;
  #planConfig: Omit<PlanConfig, 'numCanonicalNodes'>;
  readonly #seed: number;
  #numCanonicalNodes: number;
  #canonicalExplicit: boolean;
  #epoch = 0;
  #samplesSeen = 0;
  readonly #schedule: Schedule | undefined;
  #stepSize: number;
  #cursorStep = 0;
  #cursors: number[];
  readonly #streamOrders = new Map<string, Uint32Array>();
  #plan: EpochPlan | undefined;
  #closed = false;
  /** Aborts shard loads in flight when the dataset closes. */
  readonly #closer = new AbortController();
  // Metrics
  #started = 0;
  #samples = 0;
  #waitMs = 0;
  #skipped = 0;
  readonly #perStream: number[];

  private constructor(
    o: StreamingDatasetOptions<T>,
    streams: OpenStream[],
    weights: ResolvedWeights,
    w: World,
    cache: DiskCache | undefined,
    engine: FetchEngine | undefined,
  ) {
    this.#o = o;
    this.#streams = streams;
    this.streams = streams.map((s) => s.stream);
    this.weights = weights;
    this.world = w;
    this.#cache = cache;
    this.#engine = engine;
    this.#seed = o.seed ?? DEFAULT_SEED;
    const width = w.worldSize / (o.replication ?? 1);
    this.#canonicalExplicit = o.numCanonicalNodes !== undefined;
    this.#numCanonicalNodes = o.numCanonicalNodes ?? Math.max(1, Math.floor(width));
    this.#planConfig = {
      streams: streams.map((s) => ({ shardSizes: s.mds.shards.map((sh) => sh.samples) })),
      choose: weights.choose,
      seed: this.#seed,
      order: o.shuffle === false ? 'sequential' : (o.order ?? 'shuffle'),
      interleaveRun: o.interleaveRun,
      shuffleAlgorithm: o.shuffleAlgorithm,
      shuffleBlockSize: o.shuffleBlockSize,
      sampling: o.sampling,
      batching: o.batching,
      globalBatchSize: (o.batchSize ?? 1) * Math.floor(width),
    };
    checkPlanSize(streams, weights, o);
    this.#perStream = streams.map(() => 0);
    this.#schedule = o.schedule;
    this.#stepSize = o.scheduleStepSize ?? (o.batchSize ?? 1) * Math.floor(width);
    this.#cursors = streams.map(() => 0);
    if (o.schedule && o.schedule.size !== streams.length) {
      throw new StreamsError(
        'STREAMS_INVALID_CONFIG',
        `[streams/multistream] schedule gives ${o.schedule.size} weights for ${streams.length} streams`,
        {
          fix: 'give the schedule one weight per stream, in stream order',
        },
      );
    }
    if (!(Number.isInteger(this.#stepSize) && this.#stepSize >= 1)) {
      throw new StreamsError(
        'STREAMS_INVALID_CONFIG',
        `[streams/multistream] scheduleStepSize must be an integer >= 1, got ${this.#stepSize}`,
        {
          fix: 'set scheduleStepSize to the samples per training step of the whole job',
        },
      );
    }
    // Ranks of a node share its cache: each downloads ahead within its share of the budget, less
    // one shard of room for the shard its consumer may wait on (which starts regardless).
    let maxShard = 0; // a loop, not Math.max(...): datasets can have 100k+ shards
    for (const s of streams) {
      if (!s.remote) continue;
      for (const sh of s.mds.shards) maxShard = Math.max(maxShard, sh.zipBytes ?? sh.rawBytes);
    }
    const budget = cache
      ? cache.stats().budget / Math.max(1, w.localWorldSize) - maxShard
      : Number.POSITIVE_INFINITY;
    const loadSignal = combineSignals([o.signal, this.#closer.signal]);
    // Every shard load in flight listens on it: as many as the window holds, legitimately.
    setMaxListeners(0, loadSignal);
    this.#pool = new ShardPool(
      budget,
      (key) => this.#loadShard(key, loadSignal),
      parseBytes(o.shardMemory ?? '256mib', 'shardMemory'),
    );
    if (o.onEvent) this.events.on(o.onEvent);
  }

  /** Opens every stream's index (index.json) and the node cache; no shard is read yet. */
  static async open<T = MdsSample>(
    options: StreamingDatasetOptions<T>,
  ): Promise<StreamingDataset<T>> {
    const o = options;
    const specs: StreamOptions[] =
      o.streams && o.streams.length > 0 ? [...o.streams] : [{ remote: o.remote, local: o.local }];
    const defaults = {
      remote: o.streams ? undefined : o.remote,
      local: o.streams ? undefined : o.local,
      split: o.split,
      downloadRetry: o.downloadRetry,
      downloadTimeout: o.downloadTimeout,
      validateHash: o.validateHash,
      keepCompressed: o.keepCompressed,
    };
    const streams = specs.map((spec, i) => applyStreamDefaults(Stream(spec, i), defaults, i));
    const w = isWorld(o.world) ? o.world : readWorld(o.world ?? {});
    let cache: DiskCache | undefined;
    const opened: OpenStream[] = [];
    try {
      for (const [i, s] of streams.entries()) {
        const label = streamLabel(s.name, i);
        // A stream with a local copy and no remote is read in place; with a remote, through the cache.
        const remote =
          s.remote !== undefined &&
          !(s.local !== undefined && !isRemoteUrl(s.remote) && s.remote === s.local);
        const where = remote ? s.remote! : s.local!;
        let mds: MdsDataset;
        try {
          mds = await openMdsDataset(where, { split: s.split, signal: o.signal });
        } catch (cause) {
          if (isAbortError(cause)) throw cause;
          // The cause's code stays (STREAMS_UNSAFE_PATH, STREAMS_NOT_FOUND...): it says what is wrong.
          throw new StreamsError(
            isStreamsError(cause) ? cause.code : 'STREAMS_INDEX_INVALID',
            `[streams/multistream] cannot open the index of ${label}: ${(cause as Error).message}`,
            {
              cause,
              stream: label,
              fix: 'check the stream remote/local/split point at an MDS dataset (index.json)',
            },
          );
        }
        const base = s.split ? joinUrl(where, s.split) : where;
        opened.push({
          label,
          stream: s,
          mds,
          base,
          remote: remote && isRemoteUrl(where),
          cacheKeyPrefix: `multistream/${fnv1a64(base).toString(16).padStart(16, '0')}`,
        });
      }
      const weights = resolveWeights(
        streams,
        opened.map((s) => s.mds.numSamples),
        { epochSize: o.epochSize, seed: o.seed ?? DEFAULT_SEED },
      );
      const needsCache = opened.some((s) => s.remote);
      cache = needsCache
        ? await openCache({
            dir: o.cacheDir ?? settings().cacheDir,
            limit: o.cacheLimit ?? '20gb',
            signal: o.signal,
          })
        : undefined;
      const engine = needsCache ? (o.engine ?? defaultEngine()) : undefined;
      return new StreamingDataset<T>(o, opened, weights, w, cache, engine);
    } catch (e) {
      await Promise.all(opened.map((s) => s.mds.close()));
      await cache?.close();
      throw e;
    }
  }

  /** Current epoch. */
  get epoch(): number {
    return this.#epoch;
  }

  /** Samples in the current epoch's global order (all ranks together). */
  get epochLength(): number {
    return this.#currentPlan().ids.length;
  }

  /** Samples this rank reads from the resume point to the end of the epoch. */
  get rankLength(): number {
    return this.#slice().perRank;
  }

  /** Starts epoch `e` from its beginning (the next iteration reads it). */
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
    this.#samplesSeen = 0;
  }

  /** The resume state: epoch, global samples seen, seed, canonical nodes, plan version. */
  stateDict(): DatasetState {
    return {
      version: PLAN_VERSION,
      epoch: this.#epoch,
      samplesSeen: this.#samplesSeen,
      seed: this.#seed,
      numCanonicalNodes: this.#numCanonicalNodes,
      schedulePosition: this.#schedule ? Math.floor(this.#samplesSeen / this.#stepSize) : 0,
      ...(this.#schedule ? { scheduleStepSize: this.#stepSize } : {}),
      ...((this.#planConfig.batching ?? 'random') !== 'random'
        ? { globalBatchSize: this.#planConfig.globalBatchSize }
        : {}),
    };
  }

  /**
   * Continues from a saved state, under this process's world (which may differ from the one
   * that saved it: the global order is the same, so nothing is replayed or skipped).
   */
  loadStateDict(state: DatasetState): void {
    const bad = (what: string, fix: string) =>
      new StreamsError('STREAMS_STATE_INVALID', `[streams/multistream] ${what}`, { fix });
    for (const k of ['version', 'epoch', 'samplesSeen', 'seed', 'numCanonicalNodes'] as const) {
      if (!Number.isSafeInteger(state?.[k]) || state[k] < 0)
        throw bad(
          `state.${k} is not a non-negative integer`,
          'pass an object saved by stateDict()',
        );
    }
    if (state.version !== PLAN_VERSION)
      throw bad(
        `state has plan version ${state.version}, this build plans with ${PLAN_VERSION}`,
        'resume with the streams version that saved the state, or restart the epoch',
      );
    if (state.seed !== this.#seed)
      throw bad(
        `state has seed ${state.seed}, the dataset ${this.#seed}`,
        'open the dataset with the seed of the saved run',
      );
    if (this.#canonicalExplicit && state.numCanonicalNodes !== this.#numCanonicalNodes) {
      throw bad(
        `state has numCanonicalNodes ${state.numCanonicalNodes}, the dataset ${this.#numCanonicalNodes}`,
        'drop the numCanonicalNodes option to adopt the saved one',
      );
    }
    if (this.#schedule) {
      // The scheduled sequence is endless: adopt the saved step size and position.
      const step = state.scheduleStepSize;
      if (step === undefined || !(Number.isSafeInteger(step) && step >= 1)) {
        throw bad(
          'state.scheduleStepSize is missing: the state was not saved with a schedule',
          'resume with the options of the saved run',
        );
      }
      if (step !== this.#stepSize) {
        this.#stepSize = step;
        this.#cursorStep = 0;
        this.#cursors = this.#streams.map(() => 0);
      }
      this.#numCanonicalNodes = state.numCanonicalNodes;
      this.#epoch = state.epoch;
      this.#samplesSeen = state.samplesSeen;
      return;
    }
    // Stratified and perStream orders are composed in global batches: keep the saved size so a
    // resume under another world continues the same order.
    if (
      state.globalBatchSize !== undefined &&
      state.globalBatchSize !== this.#planConfig.globalBatchSize
    ) {
      if (!(Number.isSafeInteger(state.globalBatchSize) && state.globalBatchSize >= 1))
        throw bad(
          'state.globalBatchSize is not a positive integer',
          'pass an object saved by stateDict()',
        );
      this.#planConfig = { ...this.#planConfig, globalBatchSize: state.globalBatchSize };
      this.#plan = undefined;
    }
    if (state.numCanonicalNodes !== this.#numCanonicalNodes || state.epoch !== this.#epoch)
      this.#plan = undefined;
    this.#numCanonicalNodes = state.numCanonicalNodes;
    this.#epoch = state.epoch;
    const length = this.#currentPlan().ids.length;
    if (state.samplesSeen > length)
      throw bad(
        `state.samplesSeen ${state.samplesSeen} is past the epoch's ${length} samples`,
        'the streams or weights changed since the state was saved',
      );
    this.#samplesSeen = state.samplesSeen;
  }

  /** The epoch plan (global order of sample ids) of the current epoch. */
  plan(): EpochPlan {
    return this.#currentPlan();
  }

  /** Samples of the rest of the current epoch for this rank; the epoch advances when it ends. */
  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this.#iterate<T>(false, undefined);
  }

  /**
   * Batches of `batchSize` samples (the last one shorter only when the epoch is). Batches are cut
   * straight from the decoded chunks, without a promise per sample; the state advances by whole
   * batches, as handed out.
   */
  async *batches(options: { signal?: AbortSignal } = {}): AsyncGenerator<T[]> {
    const b = this.#o.batchSize ?? 1;
    const signal = options.signal ?? this.#o.signal;
    let batch: T[] = [];
    // Slots of the batch so far: a batch is b slots of the rank's slice, so samples skipped by the
    // decode policy make it shorter and never shift later batches (ranks stay in step).
    let slots = 0;
    let lastSeen = 0;
    const counts = this.#perStream.map(() => 0);
    const epoch = this.#epoch;
    const commit = () => {
      // After the epoch's end the state already points at the next epoch: keep it there.
      if (this.#epoch === epoch) this.#samplesSeen = lastSeen;
      this.#samples += batch.length;
      counts.forEach((c, s) => {
        this.#perStream[s]! += c;
        counts[s] = 0;
      });
      if (this.events.active && this.#samples % 1000 < batch.length) this.#emitMetrics();
    };
    for await (const chunk of this.#run(false, signal)) {
      for (let j = 0; j < chunk.items.length; j++) {
        const item = chunk.items[j];
        if (item !== SKIPPED) {
          batch.push(item as T);
          counts[chunk.streams[chunk.start + j]!]! += 1;
        }
        lastSeen = seenAt(chunk, j);
        if (++slots === b) {
          throwIfAborted(signal);
          commit();
          if (batch.length > 0) yield batch;
          batch = [];
          slots = 0;
        }
      }
    }
    if (slots > 0) {
      commit();
      if (batch.length > 0) yield batch;
    }
  }

  /** Samples with where they came from (stream, shard, position, padding). */
  entries(
    options: { signal?: AbortSignal } = {},
  ): AsyncIterableIterator<{ sample: T; info: SampleInfo }> {
    return this.#iterate<{ sample: T; info: SampleInfo }>(true, options.signal);
  }

  /**
   * Hands out the chunks of {@link #run} one item at a time. Items already decoded cost one
   * resolved promise each, not a generator round trip; the state advances as each item is handed
   * out, so stateDict() is exact at every sample.
   */
  #iterate<U>(withInfo: boolean, signal: AbortSignal | undefined): AsyncIterableIterator<U> {
    const gen = this.#run(withInfo, signal);
    let chunk: Chunk | undefined;
    let k = 0;
    // The next item of the current chunk, or undefined when it has none left.
    const take = (): IteratorResult<U> | undefined => {
      const c = chunk!;
      while (k < c.items.length) {
        const j = k++;
        // Where the whole job stands once every rank group has read as much as this one.
        this.#samplesSeen = seenAt(c, j);
        const value = c.items[j];
        if (value === SKIPPED) continue;
        this.#samples++;
        this.#perStream[c.streams[c.start + j]!]! += 1;
        if (this.events.active && this.#samples % 1000 === 0) this.#emitMetrics();
        return { done: false, value: value as U };
      }
      return undefined;
    };
    const pull = async (): Promise<IteratorResult<U>> => {
      for (;;) {
        const r = await gen.next();
        if (r.done) return { done: true, value: undefined };
        chunk = r.value;
        k = 0;
        const out = take();
        if (out !== undefined) return out;
      }
    };
    const effective = signal ?? this.#o.signal;
    const it: AsyncIterableIterator<U> = {
      next: () => {
        if (effective?.aborted) {
          // Items already decoded are not handed out after an abort; the window is released.
          chunk = undefined;
          return gen.return(undefined).then(() => Promise.reject(signalReason(effective)));
        }
        const out = chunk === undefined ? undefined : take();
        return out !== undefined ? Promise.resolve(out) : pull();
      },
      return: async (value?: unknown) => {
        await gen.return(undefined);
        return { done: true, value: value as U };
      },
      [Symbol.asyncIterator]: () => it,
    };
    return it;
  }

  /** The one iteration loop; yields chunks of ready samples (or samples with their info). */
  async *#run(withInfo: boolean, signalOption: AbortSignal | undefined): AsyncGenerator<Chunk> {
    this.#checkOpen();
    const signal = signalOption ?? this.#o.signal;
    if (this.#schedule) {
      yield* this.#runScheduled(withInfo, signal);
      return;
    }
    const plan = this.#currentPlan();
    yield* this.#runSlice(withInfo, signal, { ...plan, end: plan.ids.length }, this.#slice());
    // Epoch done: the next iteration starts the next epoch.
    this.#epoch++;
    this.#samplesSeen = 0;
    this.#plan = undefined;
    if (this.events.active) this.#emitMetrics();
  }

  /**
   * Time-varying mixing: an endless global sequence in steps of `stepSize` samples, step t taking
   * `apportion(schedule.weightsAt(t), stepSize)` samples from each stream, in stream order, each
   * stream read from its own shuffled order epoch after epoch. Independent of the world (the step
   * size is kept in the state), so ranks split it exactly as they split an epoch.
   */
  async *#runScheduled(withInfo: boolean, signal: AbortSignal | undefined): AsyncGenerator<Chunk> {
    // Blocks of whole global batches, so no position is left out between blocks.
    const g =
      (this.#o.batchSize ?? 1) * Math.floor(this.world.worldSize / (this.#o.replication ?? 1));
    const block = Math.ceil((64 * this.#stepSize) / g) * g;
    const maxSteps = this.#o.scheduleSteps ?? Number.POSITIVE_INFINITY;
    const plan = this.#currentPlan();
    for (;;) {
      const start = this.#samplesSeen;
      const end = Math.min(start + block, maxSteps * this.#stepSize);
      if (start >= end) return;
      const order = this.#scheduledIds(start, end); // [block] global ids of positions [start, end)
      const slice = this.#partition(order, { dropLast: true });
      // Positions of the block slice are relative: shift them into the endless sequence.
      for (let k = 0; k < slice.positions.length; k++) slice.positions[k]! += start;
      yield* this.#runSlice(
        withInfo,
        signal,
        {
          epoch: this.#epoch,
          streamOffsets: plan.streamOffsets,
          shardOffsets: plan.shardOffsets,
          end: Number.POSITIVE_INFINITY,
        },
        slice,
      );
      if (slice.perRank === 0) return; // less than one global batch left
      this.#samplesSeen = Math.max(this.#samplesSeen, start + slice.perRank * slice.width);
    }
  }

  /** Global sample ids of positions [start, end) of the scheduled sequence. */
  #scheduledIds(start: number, end: number): Uint32Array {
    const U = this.#stepSize;
    const out = new Uint32Array(end - start); // [end - start]
    const offsets = this.#currentPlan().streamOffsets;
    for (let t = Math.floor(start / U); t * U < end; t++) {
      const cursors = this.#cursorsAt(t);
      const portions = apportion(this.#schedule!.weightsAt(t), U);
      let p = t * U;
      for (let s = 0; s < portions.length; s++) {
        const samples = this.#streams[s]!.mds.numSamples;
        if (samples === 0 && portions[s]! > 0) {
          throw new StreamsError(
            'STREAMS_INVALID_CONFIG',
            `[streams/multistream] the schedule gives weight to ${this.#streams[s]!.label} at step ${t}, but the stream is empty`,
            {
              stream: this.#streams[s]!.label,
              fix: 'give empty streams weight 0 or point them at data',
            },
          );
        }
        for (let o = 0; o < portions[s]!; o++, p++) {
          if (p < start || p >= end) continue;
          const k = cursors[s]! + o;
          const e = Math.floor(k / samples);
          out[p - start] = offsets[s]! + this.#streamOrder(s, e)[k - e * samples]!;
        }
      }
    }
    return out;
  }

  /** Samples taken from each stream before step t (sums of the apportioned steps; rolls forward). */
  #cursorsAt(t: number): number[] {
    if (this.#cursorStep > t) {
      this.#cursorStep = 0;
      this.#cursors = this.#streams.map(() => 0);
    }
    while (this.#cursorStep < t) {
      const portions = apportion(this.#schedule!.weightsAt(this.#cursorStep), this.#stepSize);
      this.#cursors = this.#cursors.map((x, s) => x + portions[s]!);
      this.#cursorStep++;
    }
    return this.#cursors;
  }

  /** Stream s's own order for its e-th pass (one stream, every sample once, shuffled per pass). */
  #streamOrder(s: number, e: number): Uint32Array {
    const key = `${s}:${e}`;
    let order = this.#streamOrders.get(key);
    if (!order) {
      const samples = this.#streams[s]!.mds.numSamples;
      order = buildEpochPlan(
        {
          ...this.#planConfig,
          streams: [this.#planConfig.streams[s]!],
          choose: [samples],
          seed: this.#seed + s * 7919,
          batching: 'random',
          order: this.#planConfig.order === 'interleave' ? 'shuffle' : this.#planConfig.order,
          numCanonicalNodes: 1,
        },
        e,
      ).ids;
      this.#streamOrders.set(key, order);
      // Two passes per stream are enough to serve any step (a step never spans more).
      for (const k of this.#streamOrders.keys())
        if (k.startsWith(`${s}:`) && Number(k.split(':')[1]) < e - 1) this.#streamOrders.delete(k);
    }
    return order;
  }

  /** The loop over one slice of global positions: prefetch window, decode, chunks. */
  async *#runSlice(
    withInfo: boolean,
    signal: AbortSignal | undefined,
    plan: {
      epoch: number;
      streamOffsets: readonly number[];
      shardOffsets: readonly (readonly number[])[];
      end: number;
    },
    slice: PlanSlice,
  ): AsyncGenerator<Chunk> {
    const n = slice.ids.length;
    const b = this.#o.batchSize ?? 1;
    const ahead = Math.max(1, this.#o.predownload ?? Math.max(512, 8 * b));
    const decodeAhead = Math.max(1, Math.min(ahead, this.#o.decodeAhead ?? 2 * b + 8));
    // Where each slot's sample lives, filled as slots enter the window.
    const locStream = new Uint16Array(n); // [n]
    const locShard = new Uint32Array(n); // [n]
    const locIndex = new Uint32Array(n); // [n]
    const pending = new Map<number, Promise<T | typeof SKIPPED>>();
    const transform = this.#o.transform;
    const streamOffsets = plan.streamOffsets;
    const remoteBytes = this.#streams.map((s) =>
      s.mds.shards.map((sh) => (s.remote ? (sh.zipBytes ?? sh.rawBytes) : 0)),
    );
    const refs = this.#streams.map((s) => new Int32Array(s.mds.shards.length)); // [streams][shards]
    if (this.#started === 0) this.#started = performance.now();
    const refAt = (i: number) => {
      const id = slice.ids[i]!;
      let stream = 0;
      while (streamOffsets[stream + 1]! <= id) stream++;
      const offs = plan.shardOffsets[stream]!;
      let lo = rangeOf(offs, id);
      while (offs[lo + 1]! <= id) lo++; // skip empty shards
      locStream[i] = stream;
      locShard[i] = lo;
      locIndex[i] = id - offs[lo]!;
      if (refs[stream]![lo]!++ === 0)
        this.#pool.ref(shardKey(stream, lo), remoteBytes[stream]![lo]!);
    };
    // The pool sees one reference per shard the window holds (taken and dropped on the window's
    // own counts), not one per sample: no Map lookup per sample.
    const drop = (stream: number, shard: number) => {
      if (--refs[stream]![shard]! === 0) {
        const key = shardKey(stream, shard);
        this.#pool.unref(key);
        if (key === lastKey) lastKey = -1; // it may leave memory now
      }
    };
    // The shard last looked up (hot path): loaded, and held while the window references it.
    let lastKey = -1;
    let last: LoadedShard | undefined;
    const locAt = (i: number) => ({
      stream: locStream[i]!,
      shard: locShard[i]!,
      index: locIndex[i]!,
    });
    const infoAt = (i: number): SampleInfo => ({
      id: slice.ids[i]!,
      ...locAt(i),
      epoch: plan.epoch,
      position: slice.positions[i]!,
      padding: slice.padding[i] === 1,
    });
    // What a chunk needs to tell the consumer where the job stands after each of its items.
    const newChunk = (start: number): Chunk => ({
      items: [],
      start,
      positions: slice.positions,
      streams: locStream,
      end: plan.end,
      lag: slice.width - slice.group,
    });
    let chunk = newChunk(0);
    const schemas = this.#streams.map((s) => s.mds.schema);
    let refd = 0;
    let decoded = 0;
    try {
      if (transform === undefined) {
        // Hot path: samples of shards already in memory are decoded straight from the shard
        // bytes, a chunk at a time, with no promise and no allocation but the sample itself.
        // Only a sample whose shard is not loaded yet hands out the chunk so far and awaits.
        let i = 0;
        while (i < n) {
          throwIfAborted(signal);
          const stop = Math.min(n, i + CHUNK);
          const items = chunk.items;
          // Touch the chunk's samples first, in one tight loop of independent loads: in a shuffled
          // order each sample is a cache (and TLB) miss, and here the CPU overlaps them, where
          // the decode loop below, allocating between loads, would take them one at a time.
          while (refd < Math.min(n, i + ahead)) refAt(refd++);
          const touchEnd = Math.min(stop, refd);
          let touched = 0;
          for (let k = i; k < touchEnd; k++) {
            const key = shardKey(locStream[k]!, locShard[k]!);
            const shard = key === lastKey ? last : this.#pool.peek(key);
            if (shard === undefined) break;
            lastKey = key;
            last = shard;
            touched += shard.bytes[shard.offsets[locIndex[k]!]!]!;
          }
          prefetchSink[0] = touched;
          for (; i < stop; i++) {
            const want = i + ahead < n ? i + ahead : n;
            while (refd < want) refAt(refd++);
            const stream = locStream[i]!;
            const key = shardKey(stream, locShard[i]!);
            let shard = key === lastKey ? last : this.#pool.peek(key);
            if (shard === undefined) {
              if (items.length > 0) break;
              const t0 = performance.now();
              this.#pool.urge(key);
              shard = await this.#pool.get(key);
              this.#waitMs += performance.now() - t0;
            }
            lastKey = key;
            last = shard;
            decoded = i + 1;
            const j = locIndex[i]!;
            let sample: MdsSample;
            try {
              sample = schemas[stream]!.decode(
                shard.bytes,
                shard.offsets[j]!,
                shard.offsets[j + 1]!,
                shard.view,
              );
            } finally {
              drop(stream, locShard[i]!);
            }
            items.push(withInfo ? { sample, info: infoAt(i) } : sample);
          }
          if (items.length > 0) {
            yield chunk;
            chunk = newChunk(i);
          }
        }
        return;
      }
      for (let i = 0; i < n; i++) {
        throwIfAborted(signal);
        while (refd < Math.min(n, i + ahead)) refAt(refd++);
        const stream = locStream[i]!;
        while (decoded < Math.min(n, i + decodeAhead)) {
          const k = decoded++;
          const p = this.#decodeAt(plan, slice, k, locAt(k), drop, signal);
          p.catch(() => undefined);
          pending.set(k, p);
        }
        if (chunk.items.length > 0) {
          yield chunk;
          chunk = newChunk(i);
        }
        const t0 = performance.now();
        this.#pool.urge(shardKey(stream, locShard[i]!));
        const sample: T | typeof SKIPPED = await pending.get(i)!;
        this.#waitMs += performance.now() - t0;
        pending.delete(i);
        chunk.items.push(withInfo && sample !== SKIPPED ? { sample, info: infoAt(i) } : sample);
      }
      if (chunk.items.length > 0) yield chunk;
    } finally {
      // Early exit or error: drop the references still held by the window.
      for (let k = decoded; k < refd; k++) drop(locStream[k]!, locShard[k]!);
      await Promise.allSettled(pending.values());
    }
  }

  /** Random access: global sample `i` (streams laid end to end), through the same cache. */
  async get(i: number, options: { signal?: AbortSignal } = {}): Promise<T> {
    this.#checkOpen();
    const total = this.#streams.reduce((a, s) => a + s.mds.numSamples, 0);
    if (!(Number.isSafeInteger(i) && i >= 0 && i < total)) {
      throw new StreamsError(
        'STREAMS_INVALID_ARGUMENT',
        `[streams/multistream] sample ${i} is outside the dataset's ${total} samples`,
        {
          fix: `ask for a sample in [0, ${total})`,
        },
      );
    }
    const plan = this.#currentPlan();
    const loc = locateSample(plan, i);
    const key = shardKey(loc.stream, loc.shard);
    const shard = this.#streams[loc.stream]!.mds.shards[loc.shard]!;
    this.#pool.ref(key, this.#streams[loc.stream]!.remote ? (shard.zipBytes ?? shard.rawBytes) : 0);
    try {
      this.#pool.urge(key);
      const loaded = await this.#pool.get(key);
      const raw = decodeAt(loaded, loc.index, this.#streams[loc.stream]!.mds.schema);
      return await this.#transform(
        raw,
        { id: i, ...loc, epoch: this.#epoch, position: -1, padding: false },
        options.signal,
      );
    } finally {
      this.#pool.unref(key);
    }
  }

  /** Metadata of the samples this rank has read this epoch (or, with a schedule, so far), as an Arrow table. */
  getData(): Table {
    const plan = this.#currentPlan();
    // With a schedule the sequence is endless: rebuild its prefix up to the current position.
    const slice = this.#schedule
      ? this.#partition(this.#scheduledIds(0, this.#samplesSeen), { dropLast: true })
      : this.#slice(0);
    let count = 0;
    while (count < slice.positions.length && slice.positions[count]! < this.#samplesSeen) count++;
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

  /** Throughput, starvation, cache and per-stream share figures so far. */
  metrics(): DatasetMetrics {
    const elapsed = this.#started === 0 ? 0 : performance.now() - this.#started;
    const hits = this.#pool.hits;
    const misses = this.#pool.misses;
    return {
      samples: this.#samples,
      skipped: this.#skipped,
      samplesPerSecond: elapsed > 0 ? (this.#samples * 1000) / elapsed : 0,
      waitMs: this.#waitMs,
      starvation: elapsed > 0 ? this.#waitMs / elapsed : 0,
      cacheHits: hits,
      cacheMisses: misses,
      cacheHitRate: hits + misses > 0 ? hits / (hits + misses) : 0,
      cacheEvictions: this.#cache?.stats().evictions ?? 0,
      cacheBytesInUse: this.#cache?.stats().bytesInUse ?? 0,
      queueDepth: this.#pool.queueDepth,
      activeShards: this.#pool.active,
      shares: this.#streams.map((s, k) => ({
        stream: s.label,
        target: this.weights.proportion[k]!,
        actual: this.#samples > 0 ? this.#perStream[k]! / this.#samples : 0,
      })),
    };
  }

  /** Closes the streams, releases every pin and closes the cache. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#closer.abort();
    await this.#pool.close();
    await Promise.all(this.#streams.map((s) => s.mds.close()));
    await this.#cache?.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #emitMetrics(): void {
    const m = this.metrics();
    const counters: Record<string, number> = {
      samples: m.samples,
      skipped: m.skipped,
      samplesPerSecond: m.samplesPerSecond,
      waitMs: m.waitMs,
      starvation: m.starvation,
      cacheHits: m.cacheHits,
      cacheMisses: m.cacheMisses,
      cacheHitRate: m.cacheHitRate,
      cacheEvictions: m.cacheEvictions,
      queueDepth: m.queueDepth,
      activeShards: m.activeShards,
    };
    m.shares.forEach((s, k) => {
      counters[`share.${k}.target`] = s.target;
      counters[`share.${k}.actual`] = s.actual;
    });
    this.events.emit({
      kind: 'metric',
      name: 'multistream.progress',
      counters,
      attrs: { epoch: this.#epoch, rank: this.world.rank },
    });
  }

  #checkOpen(): void {
    if (this.#closed) {
      throw new StreamsError(
        'STREAMS_INVALID_ARGUMENT',
        '[streams/multistream] the dataset is closed',
        {
          fix: 'open a new StreamingDataset',
        },
      );
    }
  }

  #currentPlan(): EpochPlan {
    if (this.#plan?.epoch !== this.#epoch) {
      this.#plan = buildEpochPlan(
        { ...this.#planConfig, numCanonicalNodes: this.#numCanonicalNodes },
        this.#epoch,
      );
    }
    return this.#plan;
  }

  #slice(start = this.#samplesSeen): PlanSlice {
    return this.#partition(this.#currentPlan().ids, { start, dropLast: this.#o.dropLast });
  }

  /** This rank's and worker's part of `order`, under the dataset's world and batching. */
  #partition(order: Uint32Array, o: { start?: number; dropLast: boolean | undefined }): PlanSlice {
    return partitionPlan(order, {
      worldSize: this.world.worldSize,
      rank: this.world.rank,
      replication: this.#o.replication,
      batchSize: this.#o.batchSize,
      numWorkers: this.#o.numWorkers,
      worker: this.#o.worker,
      ...o,
    });
  }

  async #decodeAt(
    plan: { epoch: number },
    slice: PlanSlice,
    k: number,
    loc: { stream: number; shard: number; index: number },
    drop: (stream: number, shard: number) => void,
    signal?: AbortSignal,
  ): Promise<T | typeof SKIPPED> {
    const key = shardKey(loc.stream, loc.shard);
    let raw: MdsSample;
    try {
      const loaded = this.#pool.peek(key) ?? (await this.#pool.get(key));
      raw = decodeAt(loaded, loc.index, this.#streams[loc.stream]!.mds.schema);
    } finally {
      // The sample is decoded (or failed): its reference goes now.
      drop(loc.stream, loc.shard);
    }
    const info: SampleInfo = {
      id: slice.ids[k]!,
      ...loc,
      epoch: plan.epoch,
      position: slice.positions[k]!,
      padding: slice.padding[k] === 1,
    };
    let out: T;
    try {
      out = await this.#transform(raw, info, signal);
    } catch (cause) {
      if (isAbortError(cause) || signal?.aborted) throw cause;
      const s = this.#streams[info.stream]!;
      const coords = {
        stream: s.label,
        shard: s.mds.shards[info.shard]!.basename,
        sample: info.index,
      };
      const error = transformFailed(cause, coords);
      if (this.#o.decodePolicy !== 'skip') throw error;
      this.#skipped++;
      if (this.events.active)
        this.events.emit({
          kind: 'metric',
          name: 'decode.skipped',
          counters: { skipped: this.#skipped },
          attrs: { ...coords, id: info.id, position: info.position, error: error.message },
        });
      return SKIPPED;
    }
    if (out === undefined) {
      this.#skipped++;
      return SKIPPED;
    }
    return out;
  }

  async #transform(raw: MdsSample, info: SampleInfo, signal?: AbortSignal): Promise<T> {
    const t = this.#o.transform;
    if (!t) return raw as T;
    const s = this.#streams[info.stream]!;
    return t(raw, rng(this.#seed, info.epoch, 'transform', info.id, info.position), {
      signal,
      coords: { stream: s.label, shard: s.mds.shards[info.shard]!.basename, sample: info.index },
    });
  }

  /** The engine for a stream: the user's, or one honoring the stream's retry and timeout knobs. */
  #engineFor(s: OpenStream): FetchEngine {
    const { downloadRetry, downloadTimeout } = s.stream;
    if (this.#o.engine || (downloadRetry === undefined && downloadTimeout === undefined))
      return this.#engine!;
    const key = `${downloadRetry}/${downloadTimeout}`;
    let engine = this.#engines.get(key);
    if (!engine) {
      engine = createFetchEngine({
        ...(downloadRetry === undefined ? {} : { maxAttempts: downloadRetry + 1 }),
        ...(downloadTimeout === undefined ? {} : { attemptTimeoutMs: downloadTimeout }),
      });
      this.#engines.set(key, engine);
    }
    return engine;
  }

  async #loadShard(key: number, signal?: AbortSignal): Promise<LoadedShard> {
    const s = this.#streams[Math.floor(key / 0x100000000)]!;
    const shard = s.mds.shards[key % 0x100000000]!;
    const file = shard.zipBasename ?? shard.basename;
    const where = { stream: s.label, shard: shard.basename };
    let data: Uint8Array;
    let hit = true;
    let offsets: Uint32Array; // [samples + 1]
    const release = async () => {};
    if (!s.remote) {
      data = await readFile(join(toLocalPath(s.base), file), { signal });
    } else {
      const url = joinUrl(s.base, file);
      const size = shard.zipBasename ? shard.zipBytes : shard.rawBytes;
      const handle = await this.#cache!.acquire(
        `${s.cacheKeyPrefix}/${file}`,
        async (ctx) => {
          await this.#engineFor(s).download(url, ctx.tmpPath, { signal: ctx.signal, size });
        },
        { signal, expectedSize: size },
      );
      hit = handle.hit;
      // The pin guards the file while it is read; the window then holds the bytes in memory, so
      // the disk budget is never held by samples far ahead and other ranks can evict freely.
      try {
        data = await readFile(handle.path, { signal });
      } finally {
        await handle.release();
      }
    }
    try {
      const algo = s.stream.validateHash;
      if (algo) {
        const expected = (shard.zipBasename ? shard.zipHashes : shard.hashes)?.[algo];
        if (expected === undefined) {
          throw new StreamsError(
            'STREAMS_HASH_MISMATCH',
            `[streams/multistream] index.json has no ${algo} hash for the shard`,
            { ...where, fix: 'pick a hash algorithm index.json lists in validateHash' },
          );
        }
        const actual = await hashBytes(algo, data);
        if (actual !== expected) {
          throw new StreamsError(
            'STREAMS_HASH_MISMATCH',
            `[streams/multistream] ${algo} of the shard is ${actual}, index.json says ${expected}`,
            {
              ...where,
              fix: 'the shard is damaged: delete it from the cache or source and fetch it again',
            },
          );
        }
      }
      if (shard.compression)
        data = await decompress(parseCompression(shard.compression), data, {
          shard: shard.basename,
        });
      if (data.length !== shard.rawBytes) {
        throw new StreamsError(
          'STREAMS_SHARD_CORRUPT',
          `[streams/multistream] shard is ${data.length} bytes, index.json says ${shard.rawBytes}`,
          { ...where, fix: 'write or download the shard again' },
        );
      }
      offsets = mdsShardOffsets(data, shard.samples);
      // A plain Uint8Array over a Buffer's memory: samples' byte columns are then cut with the
      // native subarray, not Buffer's (which builds a Buffer subclass per call, per sample).
      if (Object.getPrototypeOf(data) !== Uint8Array.prototype)
        data = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    } catch (e) {
      await release();
      throw e;
    }
    return {
      bytes: data,
      view: new DataView(data.buffer, data.byteOffset, data.byteLength),
      offsets,
      hit,
      release,
    };
  }
}

/**
 * Refuses, before any plan is allocated, an epoch the 32-bit plan cannot index or whose plan would
 * take more than `planMemory`: the sample counts come from index.json files, which may be remote.
 */
function checkPlanSize(
  streams: readonly OpenStream[],
  weights: ResolvedWeights,
  o: { planMemory?: number | string; schedule?: Schedule },
): void {
  const underlying = streams.reduce((a, s) => a + s.mds.numSamples, 0);
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

/**
 * Sample j of a loaded shard. The offsets were checked once when the shard was loaded
 * (`mdsShardOffsets`, kept as a typed array), so this reads them without re-checking.
 */
function decodeAt(shard: LoadedShard, j: number, schema: MdsSchema): MdsSample {
  const begin = shard.offsets[j]!;
  const end = shard.offsets[j + 1]!;
  return schema.decode(shard.bytes, begin, end, shard.view);
}

/**
 * Ready samples handed out together: item j is slot `start + j` of the rank's slice, so where the
 * job stands after it and its stream are read from the slice's arrays, not stored per item.
 */
interface Chunk {
  items: unknown[];
  start: number;
  positions: Float64Array; // [slots]
  streams: Uint16Array; // [slots]
  /** The global sequence's end (positions past it are padding). */
  end: number;
  /** width - group: a slot at global position p means positions < p + lag are consumed. */
  lag: number;
}

const CHUNK = 256;

/** Where the hot path's prefetch loads go, so the compiler keeps them. */
const prefetchSink = new Int32Array(1);

/** Global samples consumed once item j of the chunk is handed out. */
function seenAt(c: Chunk, j: number): number {
  const p = c.positions[c.start + j]! + c.lag;
  return p < c.end ? p : c.end;
}

/** A chunk item whose sample was dropped by the decode policy: the state moves past it. */
const SKIPPED: unique symbol = Symbol('skipped');

const DECODE_FIX =
  "check the sample's bytes (truncated or of another format), or open the dataset with decodePolicy: 'skip'";

/**
 * A transform's failure as a `STREAMS_DECODE_FAILED` error carrying the sample's coordinates
 * (`@streams/transforms` errors already are one: they keep their message, with these coordinates).
 * Not `decodeFailed` from `@streams/transforms`: importing it would load sharp for every user.
 */
function transformFailed(
  cause: unknown,
  coords: { stream: string; shard: string; sample: number },
): StreamsError {
  if (isStreamsError(cause, 'STREAMS_DECODE_FAILED')) {
    const fixAt = cause.message.indexOf('. Fix: ');
    const message = fixAt === -1 ? cause.message : cause.message.slice(0, fixAt);
    return new StreamsError(
      'STREAMS_DECODE_FAILED',
      message.replace(/ \((stream|shard|sample) [^)]*\)$/, ''),
      {
        ...coords,
        cause: cause.cause ?? cause,
        fix: DECODE_FIX,
      },
    );
  }
  const reason = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
  return new StreamsError(
    'STREAMS_DECODE_FAILED',
    `[streams/multistream] the transform failed: ${reason}`,
    { ...coords, cause, fix: DECODE_FIX },
  );
}

/** Shards are keyed by one number: stream in the high bits, shard in the low 32. */
function shardKey(stream: number, shard: number): number {
  return stream * 0x100000000 + shard;
}

function isWorld(w: World | WorldOptions | undefined): w is World {
  return w !== undefined && 'launcher' in w && 'nodeRank' in w;
}
