// The experiences of a run and their data: which StreamingDataset each experience trains on, where
// it starts and ends, and the evaluation sets after each experience.

import type { Batch } from '@streams/cl';
import { StreamsError, world } from '@streams/core';
import { isRemoteUrl } from '@streams/index';
import {
  constantSchedule,
  type DatasetState,
  getDatasetSpec,
  linearSchedule,
  piecewiseSchedule,
  type Schedule,
  StreamingDataset,
  type StreamingDatasetOptions,
  type StreamOptions,
  StreamsWaveform,
} from '@streams/multistream';
import { imageClassification } from '@streams/transforms';
import { type BatchFields, toBatch } from './batches.js';
import type { RunConfig, ScheduleConfig } from './runConfig.js';
import type { MdsLocation, StreamSource } from './sources.js';

type Sample = Record<string, unknown>;
type Dataset = StreamingDataset<Sample>;

/** One experience: what it is called and how its batches are read. */
export interface Experience {
  index: number;
  name: string;
  /** Head of task-incremental learning (tasks mode), else undefined. */
  task: number | undefined;
  /** Opens the experience's training data, positioned at the start of the experience. */
  open(signal?: AbortSignal): Promise<ExperienceData>;
}

/** Where an experience's data stands: saved in checkpoints, so a resumed run reads on from there. */
export interface DataPosition {
  /** Passes over the experience finished (epochs, or passes over its window). */
  passes: number;
  /** The dataset's state (StreamingDataset experiences). */
  dataset: DatasetState | null;
  /** Batches of the current pass already read (STREAMS experiences). */
  batch?: number;
}

/** Data-path figures of an experience so far, for the metrics log. */
export interface DataFigures {
  waitMs: number;
  cacheHitRate: number;
  cacheHits: number;
  cacheMisses: number;
  /** Samples read so far from each stream. */
  streamCounts: number[];
}

/** An experience's training data. */
export interface ExperienceData extends AsyncDisposable {
  /** Passes over the experience finished so far. */
  readonly passes: number;
  /** Training steps of one pass (for progress). */
  readonly stepsPerPass: number;
  /** Positions the data at the start of the experience, or where a checkpoint left it. */
  rewind(saved?: DataPosition): Promise<void>;
  /** Where the data stands now. */
  position(): DataPosition;
  /** The rest of the current pass as typed-array batches; `passes` grows by one when it ends. */
  pass(signal?: AbortSignal): AsyncGenerator<Batch>;
  figures(): DataFigures;
  /** Target share of each stream at the current step. */
  targets(): number[];
  /** STREAMS signals at the current step, when a STREAMS waveform drives the data. */
  signals(): number[] | undefined;
}

/** An evaluation set, evaluated after every experience. */
export interface EvalSet {
  name: string;
  task: number | undefined;
  /** Every sample of the set, as batches. */
  batches(signal?: AbortSignal): AsyncGenerator<Batch>;
}

/** Everything the loop needs to know about the data. */
export interface DataPlan {
  experiences: Experience[];
  evals: EvalSet[];
  numClasses: number;
  heads: number;
  /** Stream names, in order. */
  streams: string[];
  /** One sample's shape, when known before reading (registered datasets, decoded images). */
  inputShape?: number[];
  /** Names of the STREAMS signals, when a STREAMS waveform drives the data. */
  signalNames?: string[];
}

function location(l: MdsLocation): Pick<StreamOptions, 'local' | 'remote' | 'split' | 'format'> {
  return {
    ...(isRemoteUrl(l.url) ? { remote: l.url } : { local: l.url }),
    ...(l.split ? { split: l.split } : {}),
    ...(l.format ? { format: l.format } : {}),
  };
}

/** Per-stream transforms (dispatched on the stream name), or none when every stream reads its columns as they are. */
function transformFor(sources: StreamSource[]): {
  transform?: StreamingDatasetOptions<Sample>['transform'];
  fields: BatchFields;
} {
  const plain = sources.every(
    (s) =>
      s.config.transform.preset === 'none' &&
      s.config.sampleWeight === undefined &&
      s.config.input === sources[0]!.config.input &&
      s.config.label === sources[0]!.config.label,
  );
  if (plain)
    return { fields: { input: sources[0]!.config.input, label: sources[0]!.config.label } };
  type PerStream = NonNullable<StreamingDatasetOptions<Sample>['transform']>;
  const byName = new Map<string, PerStream>(
    sources.map((s): [string, PerStream] => {
      const c = s.config;
      // A stream's sample weight: a constant, or a column of the raw sample.
      const w = c.sampleWeight ?? 1;
      const weightOf = (raw: Sample) => (typeof w === 'number' ? w : raw[w]);
      if (c.transform.preset === 'image') {
        const prep = imageClassification({
          size: c.transform.size,
          channels: c.transform.channels,
          train: c.transform.train,
          imageField: c.input,
          labelField: c.label,
          mean: null,
          std: null,
        });
        return [
          c.name,
          async (raw, r, call) => {
            const out = await prep(raw as Sample, r, call);
            return { x: out.image.data, y: out.label, w: weightOf(raw as Sample) };
          },
        ];
      }
      return [
        c.name,
        (raw) => ({
          x: (raw as Sample)[c.input],
          y: (raw as Sample)[c.label],
          w: weightOf(raw as Sample),
        }),
      ];
    }),
  );
  return {
    transform: (raw, r, call) => byName.get(String(call.coords?.stream))!(raw, r, call) as Sample,
    fields: {
      input: 'x',
      label: 'y',
      ...(sources.some((s) => s.config.sampleWeight !== undefined) ? { weight: 'w' } : {}),
    },
  };
}

function weightOf(s: StreamSource): Pick<StreamOptions, 'proportion' | 'repeat' | 'choose'> {
  const c = s.config;
  if (c.proportion !== undefined) return { proportion: c.proportion };
  if (c.repeat !== undefined) return { repeat: c.repeat };
  if (c.choose !== undefined) return { choose: c.choose };
  return {};
}

function datasetOptions(config: RunConfig): StreamingDatasetOptions<Sample> {
  const d = config.data;
  return {
    seed: config.seed,
    batchSize: d.batchSize,
    order: d.order,
    shuffleAlgorithm: d.shuffleAlgorithm,
    batching: d.batching,
    dropLast: d.dropLast,
    cacheLimit: d.cacheLimit,
    decodePolicy: d.decodePolicy,
    ...(d.cacheDir ? { cacheDir: d.cacheDir } : {}),
    ...(d.predownload ? { predownload: d.predownload } : {}),
  };
}

/** One sample's shape when the config tells it: a registered dataset's, or the image preset's output. */
function sampleShape(sources: StreamSource[]): number[] | undefined {
  const shapes = sources.map((s) => {
    const c = s.config;
    if (c.transform.preset === 'image')
      return [c.transform.size, c.transform.size, c.transform.channels];
    if (c.dataset === undefined) return undefined;
    const info = getDatasetSpec(c.dataset).info;
    return (typeof info === 'function' ? info(c.datasetOptions) : info).shape;
  });
  const first = shapes[0];
  return first && shapes.every((s) => s?.join() === first.join()) ? first : undefined;
}

/** Builds the experiences and evaluation sets of a run from its resolved sources. */
export function planData(config: RunConfig, sources: StreamSource[]): DataPlan {
  const { transform, fields } = transformFor(sources);
  const names = sources.map((s) => s.config.name);
  const inputShape = sampleShape(sources);
  const known = Math.max(
    0,
    ...sources.map((s) => (s.classes ? Math.max(...s.classes.flat()) + 1 : (s.numClasses ?? 0))),
  );
  const numClasses = Math.max(known, config.numClasses ?? 0);
  if (sources.some((s) => s.config.url !== undefined) && config.numClasses === undefined) {
    throw new StreamsError(
      'STREAMS_INVALID_CONFIG',
      '[streams/trainer] numClasses is not set, and url streams do not say how many classes their labels have',
      { fix: 'set numClasses (labels are 0 .. numClasses - 1)' },
    );
  }
  const evalOf = (
    name: string,
    task: number | undefined,
    // One part per source stream, named after it (the per-stream transform goes by the name).
    parts: Array<{ stream: string; at: MdsLocation }>,
  ): EvalSet => ({
    name,
    task,
    async *batches(signal) {
      await using ds = await StreamingDataset.open<Sample>({
        ...datasetOptions(config),
        streams: parts.map((p) => ({
          name: p.stream,
          ...location(p.at),
          ...streamKnobs(sources.find((s) => s.config.name === p.stream)!),
        })),
        order: 'sequential',
        batchSize: config.eval.batchSize,
        transform,
        world: { rank: 0, worldSize: 1, localRank: 0, localWorldSize: 1 }, // every rank evaluates its own model on all of it
        signal,
      });
      for await (const samples of ds.batches({ signal })) yield toBatch(samples, fields, task);
    },
  });
  const e = config.experiences;
  if (e.kind === 'tasks') {
    const tasks = sources[0]!.train.length;
    const taskName = (k: number) =>
      e.split === 'permuted'
        ? `permutation ${k}`
        : e.split === 'rotated'
          ? `rotated ${e.angles![k]} deg`
          : `classes ${sources[0]!.classes![k]!.join(',')}`;
    const heads = e.mode === 'task-incremental' ? tasks : 1;
    const headOf = (k: number) => (e.mode === 'task-incremental' ? k : undefined);
    const experiences = Array.from(
      { length: tasks },
      (_, k): Experience => ({
        index: k,
        name: taskName(k),
        task: headOf(k),
        open: async (signal) => {
          const ds = await StreamingDataset.open<Sample>({
            ...datasetOptions(config),
            ...(config.data.epochSize !== undefined ? { epochSize: config.data.epochSize } : {}),
            streams: sources.map((s) => ({
              name: s.config.name,
              ...location(s.train[k]!),
              ...weightOf(s),
              ...streamKnobs(s),
            })),
            transform,
            signal,
          });
          return epochData(ds, fields, headOf(k), config.data.batchSize);
        },
      }),
    );
    const evals = Array.from({ length: tasks }, (_, k) =>
      evalOf(
        `task ${k} (${taskName(k)})`,
        headOf(k),
        sources.map((s) => ({ stream: s.config.name, at: s.test![k]! })),
      ),
    );
    return {
      experiences,
      evals,
      numClasses:
        e.mode === 'task-incremental'
          ? Math.max(...sources[0]!.classes!.map((c) => c.length))
          : numClasses,
      heads,
      streams: names,
      ...(inputShape ? { inputShape } : {}),
    };
  }
  if (e.kind !== 'windows') {
    throw new StreamsError(
      'STREAMS_INTERNAL',
      `[streams/trainer] experiences.kind ${e.kind} is not planned from streams`,
    );
  }
  // windows: one endless mix under a schedule, cut into windows of steps.
  const { schedule, signalsAt } = buildSchedule(config.schedule, sources, config.seed);
  const stepSize = config.data.batchSize * world().worldSize;
  const w = e.stepsPerWindow;
  const experiences = Array.from(
    { length: e.windows },
    (_, k): Experience => ({
      index: k,
      name: `steps ${k * w}-${(k + 1) * w - 1}`,
      task: undefined,
      open: async (signal) => {
        const ds = await StreamingDataset.open<Sample>({
          ...datasetOptions(config),
          streams: sources.map((s) => ({
            name: s.config.name,
            ...location(s.train[0]!),
            ...streamKnobs(s),
          })),
          schedule,
          scheduleStepSize: stepSize,
          scheduleSteps: e.windows * w,
          transform,
          signal,
        });
        return windowData(ds, fields, {
          start: k * w * stepSize,
          end: (k + 1) * w * stepSize,
          steps: w,
          schedule,
          signalsAt,
        });
      },
    }),
  );
  const evals = sources.flatMap((s) =>
    s.test
      ? [
          evalOf(
            s.config.name,
            undefined,
            s.test.map((at) => ({ stream: s.config.name, at })),
          ),
        ]
      : [],
  );
  return {
    experiences,
    evals,
    numClasses,
    heads: 1,
    streams: names,
    ...(inputShape ? { inputShape } : {}),
    ...(signalsAt ? { signalNames: names } : {}),
  };
}

function streamKnobs(s: StreamSource): Partial<StreamOptions> {
  const c = s.config;
  return {
    ...(c.downloadRetry !== undefined ? { downloadRetry: c.downloadRetry } : {}),
    // The config's duration is already milliseconds; the stream reads a bare number as seconds.
    ...(c.downloadTimeout !== undefined ? { downloadTimeout: `${c.downloadTimeout}ms` } : {}),
    ...(c.validateHash !== undefined ? { validateHash: c.validateHash } : {}),
    // Index tables: which URL columns are fetched, and how they are checked.
    ...(c.urlColumns !== undefined ? { urlColumns: c.urlColumns } : {}),
    ...(c.columnsToDownload !== undefined ? { columnsToDownload: c.columnsToDownload } : {}),
    ...(c.alternatives !== undefined ? { alternatives: c.alternatives } : {}),
    ...(c.sizeColumn !== undefined ? { sizeColumn: c.sizeColumn } : {}),
    ...(c.hashColumn !== undefined ? { hashColumn: c.hashColumn } : {}),
  } as Partial<StreamOptions>;
}

/** The figures every StreamingDataset experience reports. */
function datasetFigures(ds: Dataset): DataFigures {
  const m = ds.metrics();
  return {
    waitMs: m.waitMs,
    cacheHitRate: m.cacheHitRate,
    cacheHits: m.cacheHits,
    cacheMisses: m.cacheMisses,
    // The dataset reports shares of its running total: back to counts.
    streamCounts: m.shares.map((s) => Math.round(s.actual * m.samples)),
  };
}

/**
 * Tasks mode: each pass is the rest of the dataset's current epoch, and the passes done are the
 * dataset's epochs, so a run stopped on any batch (the last of an epoch included) resumes exactly.
 */
function epochData(
  ds: Dataset,
  fields: BatchFields,
  task: number | undefined,
  batchSize: number,
): ExperienceData {
  return {
    get passes() {
      return ds.stateDict().epoch;
    },
    stepsPerPass: Math.ceil(ds.epochLength / (batchSize * world().worldSize)),
    async rewind(saved) {
      if (!saved?.dataset) return ds.setEpoch(0);
      ds.loadStateDict(saved.dataset);
      // Stopped after the last batch of an epoch: the next pass is the next epoch.
      if (saved.dataset.samplesSeen >= ds.epochLength) ds.setEpoch(saved.dataset.epoch + 1);
    },
    position: () => ({ passes: ds.stateDict().epoch, dataset: ds.stateDict() }),
    async *pass(signal) {
      // The dataset moves to its next epoch when this one ends (an empty one included).
      for await (const samples of ds.batches({ signal })) yield toBatch(samples, fields, task);
    },
    figures: () => datasetFigures(ds),
    targets: () => ds.weights.proportion,
    signals: () => undefined,
    [Symbol.asyncDispose]: () => ds.close(),
  };
}

/** Windows mode: each pass reads the window [start, end) of the scheduled sequence. */
function windowData(
  ds: Dataset,
  fields: BatchFields,
  w: {
    start: number;
    end: number;
    steps: number;
    schedule: Schedule;
    signalsAt: ((step: number) => number[]) | undefined;
  },
): ExperienceData {
  const base = ds.stateDict();
  let resumed: DatasetState | undefined;
  let passes = 0;
  // The schedule step of the batch just read.
  const at = () => Math.max(0, ds.stateDict().schedulePosition - 1);
  return {
    get passes() {
      return passes;
    },
    stepsPerPass: w.steps,
    async rewind(saved) {
      passes = saved?.passes ?? 0;
      resumed = saved?.dataset ?? undefined;
    },
    position: () => ({ passes, dataset: ds.stateDict() }),
    async *pass(signal) {
      const from = resumed ?? {
        ...base,
        samplesSeen: w.start,
        schedulePosition: w.start / (base.scheduleStepSize ?? 1),
      };
      resumed = undefined;
      ds.loadStateDict(from);
      if (from.samplesSeen < w.end) {
        for await (const samples of ds.batches({ signal })) {
          yield toBatch(samples, fields, undefined);
          if (ds.stateDict().samplesSeen >= w.end) break;
        }
      }
      passes += 1;
    },
    figures: () => datasetFigures(ds),
    targets: () => normalize(w.schedule.weightsAt(at())),
    signals: () => w.signalsAt?.(at()),
    [Symbol.asyncDispose]: () => ds.close(),
  };
}

/** Shares that sum to 1. */
export function normalize(w: readonly number[]): number[] {
  const sum = w.reduce((a, b) => a + b, 0);
  return w.map((v) => (sum > 0 ? v / sum : 0));
}

/** The schedule of windows mode: the configured one, or the streams' proportions at every step. */
function buildSchedule(
  cfg: ScheduleConfig | undefined,
  sources: StreamSource[],
  seed: number,
): { schedule: Schedule; signalsAt?: (step: number) => number[] } {
  const n = sources.length;
  const check = (w: readonly number[], field: string) => {
    if (w.length !== n) {
      throw new StreamsError(
        'STREAMS_INVALID_CONFIG',
        `[streams/trainer] ${field} has ${w.length} weights for ${n} streams`,
        {
          fix: 'give one weight per stream, in the order of streams',
        },
      );
    }
  };
  if (!cfg || cfg.kind === 'constant') {
    return { schedule: constantSchedule(sources.map((s) => s.config.proportion ?? 1)) };
  }
  if (cfg.kind === 'linear') {
    const k = need(cfg.keyframes, 'schedule.keyframes', 'linear');
    for (const [i, f] of k.entries()) check(f.weights, `schedule.keyframes[${i}].weights`);
    return { schedule: linearSchedule(k) };
  }
  if (cfg.kind === 'piecewise') {
    const p = need(cfg.phases, 'schedule.phases', 'piecewise');
    for (const [i, f] of p.entries()) check(f.weights, `schedule.phases[${i}].weights`);
    return { schedule: piecewiseSchedule(p) };
  }
  // STREAMS waveforms with one domain value per stream: each stream's signal moves toward randomly
  // chosen peaks under the smoothness bound; its weight is the softmax of the signals.
  const wave = new StreamsWaveform({
    domains: { stream: sources.map((_, i) => i) },
    seed,
    batchSize: 1,
    duration: cfg.duration,
    peaks: cfg.peaks,
    maxDelta: cfg.maxDelta,
    withoutReplacement: false,
  });
  const signalsAt = (step: number) => Array.from(wave.signalsAt(step));
  return {
    schedule: {
      kind: 'streams',
      size: n,
      weightsAt(step) {
        const s = signalsAt(step);
        const max = Math.max(...s);
        return s.map((v) => Math.exp((v - max) / cfg.temperature));
      },
    },
    signalsAt,
  };
}

function need<T>(v: T | undefined, field: string, kind: string): T {
  if (v === undefined) {
    throw new StreamsError(
      'STREAMS_INVALID_CONFIG',
      `[streams/trainer] schedule.kind ${kind} needs ${field}`,
      {
        fix: `add ${field} to the schedule`,
      },
    );
  }
  return v;
}
