// A deterministic, resumable, elastic dataset over weighted streams of any registered shard
// format. This file is the public class: it ties together the options (datasetOptions.ts), unit
// loading (unitLoader.ts), the epoch order (epochPlan.ts, partition.ts) or the scheduled mix
// (scheduledOrder.ts), the prefetch window (sampleWindow.ts), the decode policy
// (decodePolicy.ts) and the state checks (datasetState.ts).
import { setMaxListeners } from 'node:events';
import { type DiskCache, openCache } from '@streams/cache';
import {
  EventHub,
  formatBytes,
  parseBytes,
  world as readWorld,
  StreamsError,
  settings,
  signalReason,
  throwIfAborted,
  type World,
  type WorldOptions,
} from '@streams/core';
import type { Sample } from '@streams/index';
import type { Table } from 'apache-arrow';
import { tableFromArrays } from 'apache-arrow';
import type { DatasetMetrics, SampleInfo, StreamingDatasetOptions } from './datasetOptions.js';
import { checkPosition, checkState, type DatasetState } from './datasetState.js';
import { DecodePolicy, SKIPPED, type SkippedSample } from './decodePolicy.js';
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
import { type Chunk, decodeSample, runSlice, seenAt, type WindowContext } from './sampleWindow.js';
import { ScheduledOrder } from './scheduledOrder.js';
import {
  applyStreamDefaults,
  FORMAT_KNOBS,
  type ResolvedWeights,
  resolveWeights,
  Stream,
  type StreamOptions,
} from './stream.js';
import {
  type OpenStream,
  openStreams,
  StreamSources,
  streamLocation,
  UnitLoader,
} from './unitLoader.js';

const DEFAULT_SEED = 9176;

/**
 * A deterministic, resumable, elastic dataset over weighted streams: MDS, WebDataset tars,
 * JSONL/CSV shards, index tables or any registered format, local or remote (s3://, gs://,
 * https://) and fetched through `@streams/downloader` into the node's `@streams/cache`, mixed,
 * shuffled and partitioned over the job's ranks by the epoch plan.
 */
export class StreamingDataset<T = Sample> implements AsyncDisposable {
  readonly streams: readonly Stream[];
  readonly weights: ResolvedWeights;
  readonly world: World;
  readonly events = new EventHub('multistream');
  readonly #o: StreamingDatasetOptions<T>;
  readonly #streams: readonly OpenStream[];
  readonly #sources: StreamSources;
  readonly #cache: DiskCache | undefined;
  readonly #loader: UnitLoader;
  readonly #policy: DecodePolicy;
  #planConfig: Omit<PlanConfig, 'numCanonicalNodes'>;
  readonly #seed: number;
  #numCanonicalNodes: number;
  readonly #canonicalExplicit: boolean;
  #epoch = 0;
  #samplesSeen = 0;
  readonly #scheduled: ScheduledOrder | undefined;
  #plan: EpochPlan | undefined;
  #closed = false;
  /** Aborts unit loads in flight when the dataset closes. */
  readonly #closer = new AbortController();
  // Metrics
  #started = 0;
  #samples = 0;
  #waitMs = 0;
  readonly #perStream: number[];
  #ctx: WindowContext<T> | undefined;

  private constructor(
    o: StreamingDatasetOptions<T>,
    streams: readonly OpenStream[],
    weights: ResolvedWeights,
    w: World,
    sources: StreamSources,
  ) {
    this.#o = o;
    this.#streams = streams;
    this.#sources = sources;
    this.#cache = sources.cache;
    this.streams = streams.map((s) => s.stream);
    this.weights = weights;
    this.world = w;
    this.#seed = o.seed ?? DEFAULT_SEED;
    const width = w.worldSize / (o.replication ?? 1);
    this.#canonicalExplicit = o.numCanonicalNodes !== undefined;
    this.#numCanonicalNodes = o.numCanonicalNodes ?? Math.max(1, Math.floor(width));
    this.#planConfig = {
      streams: streams.map((s) => ({ shardSizes: s.unitSizes })),
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
      this.#scheduled = new ScheduledOrder(
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
        this.#seed,
        stepSize,
      );
    }
    // Unit loads belong to the dataset, not to one iteration: they stop when it closes. An aborted
    // iteration only stops handing out samples, so a load it started (and the pool keeps) serves
    // the next iteration instead of failing it with the old abort.
    const loadSignal = this.#closer.signal;
    // Every unit load in flight listens on it: as many as the window holds, legitimately.
    setMaxListeners(0, loadSignal);
    const memoryLimit =
      o.memoryLimit === undefined ? undefined : parseBytes(o.memoryLimit, 'memoryLimit');
    this.#loader = new UnitLoader(streams, {
      cacheBudget: this.#cache?.stats().budget,
      localWorldSize: w.localWorldSize,
      // Under a memory limit, units no longer referenced may keep whatever the window leaves of it.
      lingerBytes: parseBytes(o.shardMemory ?? memoryLimit ?? '256mib', 'shardMemory'),
      memoryLimit,
      sequential: this.#planConfig.order === 'sequential',
      seed: this.#seed,
      signal: loadSignal,
    });
    this.#policy = new DecodePolicy(o.decodePolicy ?? 'error', this.events);
    if (o.onEvent) this.events.on(o.onEvent);
  }

  /**
   * Opens the node cache (when a stream is remote) and every stream's index through its format,
   * with the dataset's engine and cache; no unit is read yet (formats whose index does not give
   * sample counts count them here).
   */
  static async open<T = Sample>(options: StreamingDatasetOptions<T>): Promise<StreamingDataset<T>> {
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
      ...Object.fromEntries(FORMAT_KNOBS.map((k) => [k, o[k]])),
    };
    const streams = specs.map((spec, i) => applyStreamDefaults(Stream(spec, i), defaults, i));
    const w = isWorld(o.world) ? o.world : readWorld(o.world ?? {});
    // The node cache holds remote units and, when a cacheDir is given, also memos of local
    // datasets (the sample counts of WebDataset/JSONL/CSV shards, so a reopen reads none of them).
    const cache =
      streams.some((s) => streamLocation(s).remote) || o.cacheDir !== undefined
        ? await openCache({
            dir: o.cacheDir ?? settings().cacheDir,
            limit: o.cacheLimit ?? '20gb',
            signal: o.signal,
          })
        : undefined;
    const sources = new StreamSources(o.engine, cache);
    let opened: OpenStream[] = [];
    try {
      opened = await openStreams(streams, sources, {
        signal: o.signal,
        seed: o.seed ?? DEFAULT_SEED,
      });
      const weights = resolveWeights(
        streams,
        opened.map((s) => s.numSamples),
        { epochSize: o.epochSize, seed: o.seed ?? DEFAULT_SEED },
      );
      return new StreamingDataset<T>(o, opened, weights, w, sources);
    } catch (e) {
      await Promise.all(opened.map((s) => s.ds.close()));
      await sources.close();
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
      schedulePosition: this.#scheduled
        ? Math.floor(this.#samplesSeen / this.#scheduled.stepSize)
        : 0,
      ...(this.#scheduled ? { scheduleStepSize: this.#scheduled.stepSize } : {}),
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
    checkState(state, {
      seed: this.#seed,
      numCanonicalNodes: this.#canonicalExplicit ? this.#numCanonicalNodes : undefined,
      scheduled: this.#scheduled !== undefined,
    });
    if (this.#scheduled) {
      // The scheduled sequence is endless: adopt the saved step size and position.
      this.#scheduled.setStepSize(state.scheduleStepSize!);
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
      this.#planConfig = { ...this.#planConfig, globalBatchSize: state.globalBatchSize };
      this.#plan = undefined;
    }
    if (state.numCanonicalNodes !== this.#numCanonicalNodes || state.epoch !== this.#epoch)
      this.#plan = undefined;
    this.#numCanonicalNodes = state.numCanonicalNodes;
    this.#epoch = state.epoch;
    checkPosition(state, this.#currentPlan().ids.length);
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
    if (this.#started === 0) this.#started = performance.now();
    if (this.#scheduled) {
      yield* this.#runScheduled(withInfo, signal);
      return;
    }
    const plan = this.#currentPlan();
    yield* runSlice(
      this.#window,
      withInfo,
      signal,
      { ...plan, end: plan.ids.length },
      this.#slice(),
    );
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
    const order = this.#scheduled!;
    const block = Math.ceil((64 * order.stepSize) / g) * g;
    const maxSteps = this.#o.scheduleSteps ?? Number.POSITIVE_INFINITY;
    const plan = this.#currentPlan();
    for (;;) {
      const start = this.#samplesSeen;
      const end = Math.min(start + block, maxSteps * order.stepSize);
      if (start >= end) return;
      const ids = order.ids(start, end); // [block] global ids of positions [start, end)
      const slice = this.#partition(ids, { dropLast: true });
      // Positions of the block slice are relative: shift them into the endless sequence.
      for (let k = 0; k < slice.positions.length; k++) slice.positions[k]! += start;
      yield* runSlice(
        this.#window,
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

  /** Random access: global sample `i` (streams laid end to end), through the same cache. */
  async get(i: number, options: { signal?: AbortSignal } = {}): Promise<T> {
    this.#checkOpen();
    const total = this.#streams.reduce((a, s) => a + s.numSamples, 0);
    if (!(Number.isSafeInteger(i) && i >= 0 && i < total)) {
      throw new StreamsError(
        'STREAMS_INVALID_ARGUMENT',
        `[streams/multistream] sample ${i} is outside the dataset's ${total} samples`,
        {
          fix: `ask for a sample in [0, ${total})`,
        },
      );
    }
    const loc = locateSample(this.#currentPlan(), i);
    const release = this.#loader.refOne(loc.stream, loc.shard, loc.index);
    // A failure is an error whatever the decode policy: there is no next sample to skip to.
    const out = await decodeSample(
      { ...this.#window, policy: new DecodePolicy('error', this.events) },
      { id: i, ...loc, epoch: this.#epoch, position: -1, padding: false },
      options.signal ?? this.#o.signal,
      release,
    );
    return (out === SKIPPED ? undefined : out) as T;
  }

  /** The samples the `skip` decode policy dropped (most recent last), with coordinates and why. */
  skipped(): readonly SkippedSample[] {
    return this.#policy.report;
  }

  /** Metadata of the samples this rank has read this epoch (or, with a schedule, so far), as an Arrow table. */
  getData(): Table {
    const plan = this.#currentPlan();
    // With a schedule the sequence is endless: rebuild its prefix up to the current position.
    const slice = this.#scheduled
      ? this.#partition(this.#scheduled.ids(0, this.#samplesSeen), { dropLast: true })
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
    const hits = this.#loader.pool.hits;
    const misses = this.#loader.pool.misses;
    return {
      samples: this.#samples,
      skipped: this.#policy.skipped,
      samplesPerSecond: elapsed > 0 ? (this.#samples * 1000) / elapsed : 0,
      waitMs: this.#waitMs,
      starvation: elapsed > 0 ? this.#waitMs / elapsed : 0,
      cacheHits: hits,
      cacheMisses: misses,
      cacheHitRate: hits + misses > 0 ? hits / (hits + misses) : 0,
      cacheEvictions: this.#cache?.stats().evictions ?? 0,
      cacheBytesInUse: this.#cache?.stats().bytesInUse ?? 0,
      queueDepth: this.#loader.pool.queueDepth,
      activeShards: this.#loader.pool.active,
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
    await this.#loader.pool.close();
    await Promise.all(this.#streams.map((s) => s.ds.close()));
    await this.#sources.close();
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

  /** What the prefetch window reads with (one per dataset). */
  get #window(): WindowContext<T> {
    this.#ctx ??= {
      loader: this.#loader,
      transform: this.#o.transform,
      policy: this.#policy,
      seed: this.#seed,
      batchSize: this.#o.batchSize ?? 1,
      predownload: this.#o.predownload,
      decodeAhead: this.#o.decodeAhead,
      waited: (ms) => {
        this.#waitMs += ms;
      },
    };
    return this.#ctx;
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

function isWorld(w: World | WorldOptions | undefined): w is World {
  return w !== undefined && 'launcher' in w && 'nodeRank' in w;
}
