// The STREAMS dataset: a named (or given) labelled dataset turned into a non-stationary stream by
// a StreamsWaveform over its domain columns, advanced with step(), read as data, batches, or
// continual-learning experiences that never look past the current step.
import { rng, StreamsError, type StreamsEventListener } from '@streams/core';
import {
  Field,
  FixedSizeList,
  Float32,
  makeData,
  makeVector,
  Table,
  vectorFromArray,
} from 'apache-arrow';
import type { RenderedChart } from './charts.js';
import type { DatasetLoadOptions, TensorDataset } from './datasetSpec.js';
import { gatherExamples, loadDataset } from './datasets.js';
import type { Schedule } from './schedule.js';
import {
  type ExhaustionPolicy,
  StreamsWaveform,
  type VisualizeOptions,
} from './streamsWaveform.js';

/** One batch as the `@streams/cl` learners take it: typed arrays, row-major. */
export interface SampleBatch {
  x: Float32Array; // [batch, ...shape]
  y: Int32Array; // [batch]
  weight?: Float32Array; // [batch]
  task?: Int32Array; // [batch]
}

/** Options of batch iteration ({@link StreamsDataset.getLoader}, {@link StreamsExperience.batches}). */
export interface BatchOptions {
  /** Samples per batch (default: the dataset's `batchSize`). */
  batchSize?: number;
  /** Shuffle the samples, with a new seeded order on each iteration (default false: draw order). */
  shuffle?: boolean;
  /** Seed of the shuffle (default: the dataset's seed). */
  seed?: number;
  /** Drop a last, partial batch (default false). */
  dropLast?: boolean;
}

/** Options of {@link StreamsDataset.open}. Every field has a default. */
export interface StreamsDatasetOptions extends DatasetLoadOptions {
  /** Step to advance to once open (default 0). */
  timestep?: number;
  /** Last step the stream may reach (default: endless). */
  maxSteps?: number;
  /** Examples available at step 0 (default `batchSize`). */
  initialBuffer?: number;
  /** Examples drawn per step (default 16). */
  batchSize?: number;
  seed?: number;
  /**
   * Domain columns whose values get signals: names among `label`, the dataset's other label
   * columns (e.g. CIFAR-100's `coarse`) and `step` (toy8), or the columns themselves. Default `['label']`.
   */
  domains?: string[] | Record<string, ArrayLike<string | number>>;
  /** `without-replacement` (default: each example at most once per pass) or `with-replacement`. */
  sampling?: 'without-replacement' | 'with-replacement';
  /** What happens once every example was drawn (default `refill`: a new pass); see {@link ExhaustionPolicy}. */
  exhaustion?: ExhaustionPolicy;
  /** Waveform: steps between targets (100), peaks per target (2), max signal change per step (0.25), softmax temperature (1). */
  duration?: number;
  peaks?: number;
  maxDelta?: number;
  temperature?: number;
  /** Step at which a domain value switches on (default 0 for all). */
  startStep?: (column: string, value: string | number) => number;
  /** Per-domain-value weights(t) instead of the waveform dynamics. */
  schedule?: Schedule;
  /** Options of the dataset's loader (e.g. `{ split: 'test' }`, `{ label: 'coarse' }`). */
  datasetOptions?: Record<string, unknown>;
  /** Receives `streams.exhausted` events. */
  onEvent?: StreamsEventListener;
}

/** Data drawn so far as typed arrays. */
export interface StreamsTensors {
  x: Float32Array; // [n, ...shape]
  y: Int32Array; // [n]
  /** Index of each sample in the dataset. */
  index: Uint32Array; // [n]
  /** Step each sample was drawn at. */
  step: Uint32Array; // [n]
  shape: number[];
}

/** One continual-learning experience: the samples of a window of steps, in draw order. */
export interface StreamsExperience {
  id: number;
  /** Steps [from, to) the samples were drawn at. */
  from: number;
  to: number;
  /** Dataset indices of the samples. */
  indices: Uint32Array; // [n]
  numSamples: number;
  /** Inputs and labels of every sample (copied on each call). */
  gather(): { x: Float32Array; y: Int32Array };
  /** The samples as batches for the learners, once per iteration. */
  batches(options?: BatchOptions): AsyncIterable<SampleBatch>;
}

/** Options of {@link StreamsDataset.getStream}. */
export interface ExperienceStreamOptions {
  /** Steps per train experience (default 1). */
  experienceSize?: number;
  /** Steps after each train experience whose draws form its test experience (default 1). */
  testWindow?: number;
}

/**
 * A STREAMS dataset: `open` a registered dataset by name (or pass one), `step()` time forward,
 * and read what was drawn up to the current step as data, batches, or experiences.
 */
export class StreamsDataset {
  readonly dataset: TensorDataset;
  readonly waveform: StreamsWaveform;
  readonly batchSize: number;
  readonly seed: number;
  readonly maxSteps: number;
  readonly #eager: boolean;
  #step = 0;

  private constructor(dataset: TensorDataset, options: StreamsDatasetOptions) {
    this.dataset = dataset;
    this.batchSize = options.batchSize ?? 16;
    this.seed = options.seed ?? 0;
    this.maxSteps = options.maxSteps ?? Number.POSITIVE_INFINITY;
    this.#eager = options.exhaustion === 'error';
    this.waveform = new StreamsWaveform({
      domains: resolveDomains(dataset, options.domains ?? ['label']),
      seed: this.seed,
      batchSize: this.batchSize,
      initialBuffer: options.initialBuffer,
      withoutReplacement: (options.sampling ?? 'without-replacement') === 'without-replacement',
      exhaustion: options.exhaustion,
      duration: options.duration,
      peaks: options.peaks,
      maxDelta: options.maxDelta,
      temperature: options.temperature,
      startStep: options.startStep,
      schedule: options.schedule,
      onEvent: options.onEvent,
    });
  }

  /** Opens a registered dataset by name (downloading it into `dataDir` if needed), or wraps a loaded one. */
  static async open(
    dataset: string | TensorDataset,
    options: StreamsDatasetOptions = {},
  ): Promise<StreamsDataset> {
    const { datasetOptions, ...rest } = options;
    const data =
      typeof dataset === 'string'
        ? await loadDataset(dataset, { ...datasetOptions, ...pickLoadOptions(rest) })
        : dataset;
    const ds = new StreamsDataset(data, options);
    if (options.timestep) ds.step(options.timestep);
    return ds;
  }

  /** The current step: everything drawn before it is readable. */
  get currentStep(): number {
    return this.#step;
  }

  /** Dataset indices drawn before the current step, in draw order. */
  get permutation(): Uint32Array {
    return this.#sync().permutation;
  }

  /** Advances `n` steps (drawing happens when data is read; with `exhaustion: 'error'` at once). */
  step(n = 1): this {
    if (!(Number.isInteger(n) && n >= 0)) {
      throw new StreamsError(
        'STREAMS_INVALID_ARGUMENT',
        `[streams/multistream] step(n) needs an integer n >= 0, got ${n}`,
        { fix: 'pass a whole number of steps' },
      );
    }
    if (this.#step + n > this.maxSteps) {
      throw new StreamsError(
        'STREAMS_INVALID_ARGUMENT',
        `[streams/multistream] step(${n}) from step ${this.#step} passes maxSteps ${this.maxSteps}`,
        { fix: 'open the dataset with a larger maxSteps' },
      );
    }
    // With exhaustion 'error' the draws happen now, so that the error surfaces here (and the
    // step is not taken) rather than at a later read.
    if (this.#eager) this.#sync(this.#step + n);
    this.#step += n;
    return this;
  }

  /**
   * Data drawn before the current step: an Arrow table (`step`, `index`, `label`, domains, `x`)
   * or typed tensors. For a `tf.data.Dataset`, pass the tensors to `tensorsToTfDataset` of
   * `@streams/multistream/tfdata` (the entry that loads TensorFlow.js).
   */
  getData(options?: { format?: 'arrow' }): Table;
  getData(options: { format: 'tensors' }): StreamsTensors;
  getData(options: { format?: 'arrow' | 'tensors' } = {}): Table | StreamsTensors {
    const format = options.format ?? 'arrow';
    const t = this.#tensors();
    if (format === 'tensors') return t;
    if (format !== 'arrow') {
      throw new StreamsError(
        'STREAMS_INVALID_ARGUMENT',
        `[streams/multistream] getData: unknown format "${format as string}"`,
        {
          fix: 'use "arrow" or "tensors" (tf.data: tensorsToTfDataset of @streams/multistream/tfdata)',
        },
      );
    }
    const size = t.shape.reduce((a, b) => a * b, 1);
    const x = makeVector(
      makeData({
        type: new FixedSizeList(size, new Field('value', new Float32())),
        length: t.index.length,
        nullCount: 0,
        child: makeData({ type: new Float32(), data: t.x }),
      }),
    );
    const columns: Record<string, ReturnType<typeof makeVector>> = {
      step: makeVector(t.step),
      index: makeVector(t.index),
      label: makeVector(t.y),
    };
    for (const [column, values] of Object.entries(this.waveform.domainValuesOf(t.index)))
      if (!(column in columns))
        columns[column] = Array.isArray(values) ? vectorFromArray(values) : makeVector(values);
    columns.x = x;
    return new Table(columns);
  }

  /** Batches over the data drawn before the current step (a snapshot taken now), re-iterable. */
  getLoader(options: BatchOptions = {}): AsyncIterable<SampleBatch> {
    return batchesOf(this.dataset, this.permutation, this.#batchDefaults(options));
  }

  /**
   * The continual-learning view: train experiences of `experienceSize` steps and, for each, a
   * test experience of the `testWindow` steps that follow it. Only windows wholly before the
   * current step are included, so the test stream may be shorter than the train stream.
   */
  getStream(options: ExperienceStreamOptions = {}): {
    train: StreamsExperience[];
    test: StreamsExperience[];
  } {
    const E = options.experienceSize ?? 1;
    const W = options.testWindow ?? 1;
    for (const [k, v] of [
      ['experienceSize', E],
      ['testWindow', W],
    ] as const) {
      if (!(Number.isInteger(v) && v >= (k === 'testWindow' ? 0 : 1))) {
        throw new StreamsError(
          'STREAMS_INVALID_ARGUMENT',
          `[streams/multistream] getStream: ${k} must be an integer >= ${k === 'testWindow' ? 0 : 1}, got ${v}`,
          { fix: `pass ${k} as a whole number of steps` },
        );
      }
    }
    const w = this.#sync();
    const train: StreamsExperience[] = [];
    const test: StreamsExperience[] = [];
    for (let id = 0; (id + 1) * E <= this.#step; id++) {
      train.push(this.#experience(id, id * E, (id + 1) * E, w));
      if ((id + 1) * E + W <= this.#step && W > 0)
        test.push(this.#experience(id, (id + 1) * E, (id + 1) * E + W, w));
    }
    return { train, test };
  }

  /** Plots the signals of one domain's values (all, or `values`) over steps, with a legend. */
  visualize(
    domain: string,
    values?: ReadonlyArray<string | number>,
    options: VisualizeOptions = {},
  ): Promise<RenderedChart> {
    return this.waveform.visualize(domain, values, {
      ...options,
      to: options.to ?? Math.max((options.from ?? 0) + 1, this.#step),
    });
  }

  #sync(to = this.#step): StreamsWaveform {
    const w = this.waveform;
    if (w.currentStep < to) w.step(to - w.currentStep);
    return w;
  }

  #experience(id: number, from: number, to: number, w: StreamsWaveform): StreamsExperience {
    const indices = w.drawnBetween(from, to);
    const ds = this.dataset;
    return {
      id,
      from,
      to,
      indices,
      numSamples: indices.length,
      gather: () => gatherExamples(ds, indices),
      batches: (options = {}) => batchesOf(ds, indices, this.#batchDefaults(options)),
    };
  }

  #batchDefaults(o: BatchOptions): Required<BatchOptions> {
    return {
      batchSize: o.batchSize ?? this.batchSize,
      shuffle: o.shuffle ?? false,
      seed: o.seed ?? this.seed,
      dropLast: o.dropLast ?? false,
    };
  }

  #tensors(): StreamsTensors {
    const w = this.#sync();
    const index = w.permutation;
    return {
      ...gatherExamples(this.dataset, index),
      index,
      step: w.permutationSteps,
      shape: [...this.dataset.shape],
    };
  }
}

function pickLoadOptions(o: DatasetLoadOptions): DatasetLoadOptions {
  const { dataDir, baseUrl, systemDirs, download, fetchOptions, progress, signal } = o;
  return { dataDir, baseUrl, systemDirs, download, fetchOptions, progress, signal };
}

/** Domain columns by name: `label`, other label columns, `step`; or given columns as they are. */
function resolveDomains(
  ds: TensorDataset,
  domains: string[] | Record<string, ArrayLike<string | number>>,
): Record<string, ArrayLike<string | number>> {
  if (!Array.isArray(domains)) return domains;
  const out: Record<string, ArrayLike<string | number>> = {};
  for (const name of domains) {
    const column =
      name === 'label' ? ds.y : name === 'step' ? ds.step : (ds.labels?.[name] ?? undefined);
    if (!column) {
      const known = ['label', ...Object.keys(ds.labels ?? {}), ...(ds.step ? ['step'] : [])];
      throw new StreamsError(
        'STREAMS_INVALID_CONFIG',
        `[streams/multistream] ${ds.name} has no domain column "${name}"`,
        { fix: `use domains among ${known.join(', ')}, or pass the columns themselves` },
      );
    }
    out[name] = column;
  }
  return out;
}

/** Batches of rows `indices`; each iteration shuffles anew (seeded by its iteration number). */
function batchesOf(
  ds: TensorDataset,
  indices: Uint32Array,
  o: Required<BatchOptions>,
): AsyncIterable<SampleBatch> {
  if (!(Number.isInteger(o.batchSize) && o.batchSize >= 1)) {
    throw new StreamsError(
      'STREAMS_INVALID_ARGUMENT',
      `[streams/multistream] batchSize must be an integer >= 1, got ${o.batchSize}`,
      { fix: 'pass a positive batchSize' },
    );
  }
  let iteration = 0;
  return {
    async *[Symbol.asyncIterator]() {
      const order = o.shuffle
        ? rng(o.seed, iteration, 'streams-loader').shuffle(Uint32Array.from(indices))
        : indices;
      iteration++;
      for (let b = 0; b < order.length; b += o.batchSize) {
        const rows = order.subarray(b, Math.min(order.length, b + o.batchSize));
        if (rows.length < o.batchSize && o.dropLast) break;
        yield gatherExamples(ds, rows);
      }
    },
  };
}
