// A deterministic, resumable, elastic dataset over weighted streams of any registered shard
// format. This file is the public class, a facade over its parts: the options (datasetOptions.ts),
// opening the streams and loading units (unitLoader.ts), the position in the order with its epoch
// plan and resume state (datasetCursor.ts, checked by datasetState.ts) or scheduled mix
// (scheduledOrder.ts), the prefetch window (sampleWindow.ts), the decode policy (decodePolicy.ts),
// random access (sampleAt.ts) and the metrics (metricsRecorder.ts). The iteration loops that hand
// out samples and batches live here.
import { setMaxListeners } from 'node:events';
import { type DiskCache, openCache } from '@streams/cache';
import {
  EventHub,
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
import { DatasetCursor, DEFAULT_SEED } from './datasetCursor.js';
import type { DatasetMetrics, SampleInfo, StreamingDatasetOptions } from './datasetOptions.js';
import type { DatasetState } from './datasetState.js';
import { DecodePolicy, SKIPPED, type SkippedSample } from './decodePolicy.js';
import type { EpochPlan } from './epochPlan.js';
import { MetricsRecorder } from './metricsRecorder.js';
import { sampleAt } from './sampleAt.js';
import { type Chunk, runSlice, seenAt, type WindowContext } from './sampleWindow.js';
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
  /** The epoch, samples seen, plan and resume state. */
  readonly #cursor: DatasetCursor;
  readonly #meter: MetricsRecorder;
  #closed = false;
  /** Aborts unit loads in flight when the dataset closes. */
  readonly #closer = new AbortController();
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
    // Checks the plan size and the schedule before anything is allocated.
    this.#cursor = new DatasetCursor(o, streams, weights, w);
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
      sequential: this.#cursor.sequential,
      seed: this.#cursor.seed,
      signal: loadSignal,
    });
    this.#policy = new DecodePolicy(o.decodePolicy ?? 'error', this.events);
    this.#meter = new MetricsRecorder({
      loader: this.#loader,
      cache: this.#cache,
      policy: this.#policy,
      labels: streams.map((s) => s.label),
      targets: weights.proportion,
    });
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
    return this.#cursor.epoch;
  }

  /** Samples in the current epoch's global order (all ranks together). */
  get epochLength(): number {
    return this.#cursor.plan().ids.length;
  }

  /** Samples this rank reads from the resume point to the end of the epoch. */
  get rankLength(): number {
    return this.#cursor.slice().perRank;
  }

  /** Starts epoch `e` from its beginning (the next iteration reads it). */
  setEpoch(e: number): void {
    this.#cursor.setEpoch(e);
  }

  /** The resume state: epoch, global samples seen, seed, canonical nodes, plan version. */
  stateDict(): DatasetState {
    return this.#cursor.stateDict();
  }

  /**
   * Continues from a saved state, under this process's world (which may differ from the one
   * that saved it: the global order is the same, so nothing is replayed or skipped).
   */
  loadStateDict(state: DatasetState): void {
    this.#cursor.loadStateDict(state);
  }

  /** The epoch plan (global order of sample ids) of the current epoch. */
  plan(): EpochPlan {
    return this.#cursor.plan();
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
    const cursor = this.#cursor;
    const meter = this.#meter;
    let batch: T[] = [];
    // Slots of the batch so far: a batch is b slots of the rank's slice, so samples skipped by the
    // decode policy make it shorter and never shift later batches (ranks stay in step).
    let slots = 0;
    let lastSeen = 0;
    const counts = meter.perStream.map(() => 0);
    const epoch = cursor.epoch;
    const commit = () => {
      // After the epoch's end the state already points at the next epoch: keep it there.
      if (cursor.epoch === epoch) cursor.samplesSeen = lastSeen;
      meter.samples += batch.length;
      counts.forEach((c, s) => {
        meter.perStream[s]! += c;
        counts[s] = 0;
      });
      if (this.events.active && meter.samples % 1000 < batch.length) this.#emitMetrics();
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
    const cursor = this.#cursor;
    const meter = this.#meter;
    let chunk: Chunk | undefined;
    let k = 0;
    // The next item of the current chunk, or undefined when it has none left.
    const take = (): IteratorResult<U> | undefined => {
      const c = chunk!;
      while (k < c.items.length) {
        const j = k++;
        // Where the whole job stands once every rank group has read as much as this one.
        cursor.samplesSeen = seenAt(c, j);
        const value = c.items[j];
        if (value === SKIPPED) continue;
        meter.samples++;
        meter.perStream[c.streams[c.start + j]!]! += 1;
        if (this.events.active && meter.samples % 1000 === 0) this.#emitMetrics();
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
    if (this.#meter.started === 0) this.#meter.started = performance.now();
    if (this.#cursor.scheduled) {
      yield* this.#runScheduled(withInfo, signal);
      return;
    }
    const plan = this.#cursor.plan();
    yield* runSlice(
      this.#window,
      withInfo,
      signal,
      { ...plan, end: plan.ids.length },
      this.#cursor.slice(),
    );
    // Epoch done: the next iteration starts the next epoch.
    this.#cursor.nextEpoch();
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
    const cursor = this.#cursor;
    const order = cursor.scheduled!;
    const block = Math.ceil((64 * order.stepSize) / g) * g;
    const maxSteps = this.#o.scheduleSteps ?? Number.POSITIVE_INFINITY;
    const plan = cursor.plan();
    for (;;) {
      const start = cursor.samplesSeen;
      const end = Math.min(start + block, maxSteps * order.stepSize);
      if (start >= end) return;
      const ids = order.ids(start, end); // [block] global ids of positions [start, end)
      const slice = cursor.partition(ids, { dropLast: true });
      // Positions of the block slice are relative: shift them into the endless sequence.
      for (let k = 0; k < slice.positions.length; k++) slice.positions[k]! += start;
      yield* runSlice(
        this.#window,
        withInfo,
        signal,
        {
          epoch: cursor.epoch,
          streamOffsets: plan.streamOffsets,
          shardOffsets: plan.shardOffsets,
          end: Number.POSITIVE_INFINITY,
        },
        slice,
      );
      if (slice.perRank === 0) return; // less than one global batch left
      cursor.samplesSeen = Math.max(cursor.samplesSeen, start + slice.perRank * slice.width);
    }
  }

  /** Random access: global sample `i` (streams laid end to end), through the same cache. */
  async get(i: number, options: { signal?: AbortSignal } = {}): Promise<T> {
    this.#checkOpen();
    return sampleAt<T>(
      {
        window: this.#window,
        events: this.events,
        total: this.#streams.reduce((a, s) => a + s.numSamples, 0),
        epoch: this.#cursor.epoch,
        plan: () => this.#cursor.plan(),
      },
      i,
      options.signal ?? this.#o.signal,
    );
  }

  /** The samples the `skip` decode policy dropped (most recent last), with coordinates and why. */
  skipped(): readonly SkippedSample[] {
    return this.#policy.report;
  }

  /** Metadata of the samples this rank has read this epoch (or, with a schedule, so far), as an Arrow table. */
  getData(): Table {
    return this.#cursor.readTable();
  }

  /** Throughput, starvation, cache and per-stream share figures so far. */
  metrics(): DatasetMetrics {
    return this.#meter.read();
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
    this.#meter.emit(this.events, { epoch: this.#cursor.epoch, rank: this.world.rank });
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

  /** What the prefetch window reads with (one per dataset). */
  get #window(): WindowContext<T> {
    this.#ctx ??= {
      loader: this.#loader,
      transform: this.#o.transform,
      policy: this.#policy,
      seed: this.#cursor.seed,
      batchSize: this.#o.batchSize ?? 1,
      predownload: this.#o.predownload,
      decodeAhead: this.#o.decodeAhead,
      waited: (ms) => {
        this.#meter.waitMs += ms;
      },
    };
    return this.#ctx;
  }
}

function isWorld(w: World | WorldOptions | undefined): w is World {
  return w !== undefined && 'launcher' in w && 'nodeRank' in w;
}
