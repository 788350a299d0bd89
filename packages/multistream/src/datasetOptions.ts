// The options, sample coordinates and metrics of a StreamingDataset.
import type { Rng, StreamsEventListener, World, WorldOptions } from '@streams/core';
import type { FetchEngine } from '@streams/downloader';
import type { Sample } from '@streams/index';
import type { BatchingMethod, OrderMode } from './epochPlan.js';
import type { SamplingMethod } from './resample.js';
import type { Schedule } from './schedule.js';
import type { ShuffleAlgorithm } from './shuffle.js';
import type { StreamDefaults, StreamOptions } from './stream.js';

/** Where a sample came from, handed to transforms and returned by `StreamingDataset.entries`. */
export interface SampleInfo {
  /** Global sample id (streams laid end to end). */
  id: number;
  stream: number;
  /** The unit: a shard, or a chunk of index rows. */
  shard: number;
  /** Index of the sample in its unit. */
  index: number;
  epoch: number;
  /** Position in the epoch's global order. */
  position: number;
  /** True when the sample repeats one to pad an uneven tail (see `dropLast`). */
  padding: boolean;
}

/**
 * Turns a raw sample into what the model reads. Same shape as an `@streams/transforms` preset,
 * so `transform: imageClassification({ size: 224 })` works; `rng` is seeded per (seed, epoch, sample).
 */
export type SampleTransform<T> = (
  sample: Sample,
  rng: Rng,
  call: {
    signal?: AbortSignal;
    coords?: { stream?: string | number; shard?: string | number; sample?: number };
    /**
     * The stream's fetch engine: a media preset (`videoClip`, `audioClip`) given no reader of its
     * own reads a URL cell through it by ranges (with `columnsToDownload` leaving the cell a URL).
     */
    reader?: Pick<FetchEngine, 'stat' | 'read'>;
  },
) => T | Promise<T>;

/** Options of `StreamingDataset.open`. */
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
  /** Unit groups of the order (default: the data-parallel width of the first run; kept in the state). */
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
  /** Cache directory for remote units and files (default `STREAMS_CACHE_DIR`). */
  cacheDir?: string;
  /** Byte budget of the node cache (default `"20gb"`). */
  cacheLimit?: number | string;
  /** Samples ahead whose units (and rows' files) are fetched (default 8 x batchSize, at least 512). */
  predownload?: number;
  /**
   * Memory the epoch plan may take (default 4 GiB, about 24 bytes per sample of an epoch: 179M
   * samples): an index declaring more samples fails at open instead of exhausting memory.
   */
  planMemory?: number | string;
  /**
   * One bound on the bytes of units and samples held in memory (e.g. `"1gib"`): half of it for
   * units loading, loaded or kept for a return visit and samples read ahead, half as headroom for
   * buffers the collector has not yet freed. The prefetch window counts bytes against it (and stops
   * short of `predownload` samples when they would not fit); local MDS streams whose whole shards
   * would not fit well are read a sample at a time (range reads) with read-ahead (see the README).
   * The unit the consumer waits on always loads, so the window never stalls and goes over by at
   * most that unit. Unset (default): the window holds the units of `predownload` samples, whatever
   * their size, plus `shardMemory`.
   */
  memoryLimit?: number | string;
  /**
   * Memory for units the window no longer references, kept in case the order returns to them
   * (default 256 MiB). With `memoryLimit` it is a sub-limit, part of that bound (default: all of
   * it the window leaves; such units go first when a load needs the room).
   */
  shardMemory?: number | string;
  /** Samples decoded ahead of the consumer (default min(predownload, 2 x batchSize + 8)). */
  decodeAhead?: number;
  transform?: SampleTransform<T>;
  /**
   * What a sample that cannot be read or decoded does (a truncated JPEG, a row whose file is
   * missing or has the wrong hash): `error` (default) stops the iteration with a StreamsError
   * naming the stream, unit and sample (`STREAMS_DECODE_FAILED`, or the read's own code);
   * `skip` drops it (counted in `metrics().skipped`, listed in `skipped()`, reported as a
   * `decode.skipped` event; the state still moves past it, and `batches()` hands out that batch
   * one sample shorter). A transform resolving to `undefined` is skipped under both.
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
   * Fetch engine of every remote read (index files, units, rows' files). Default: the downloader's
   * shared engine, or for streams that set `downloadRetry`/`downloadTimeout`, an engine with those
   * attempts and attempt timeout.
   */
  engine?: FetchEngine;
  /** Aborts opening and every iteration not given a signal of its own (`entries({ signal })`); loads in flight stop at `close()`. */
  signal?: AbortSignal;
}

/** What `StreamingDataset.metrics` reports. */
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
  /** Units waiting for budget, and units downloading or in memory. */
  queueDepth: number;
  activeShards: number;
  /** Per stream: the target share of the epoch and the share read so far by this rank. */
  shares: Array<{ stream: string; target: number; actual: number }>;
}
