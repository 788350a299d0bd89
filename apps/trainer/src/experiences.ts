// The experiences of a run and their data: which StreamingDataset each experience trains on, where
// it starts and ends, and the evaluation sets after each experience.
import { StreamsError, world } from '@streams/core';
import { isRemoteUrl } from '@streams/index';
import {
  constantSchedule,
  type DatasetState,
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
import type { Batch } from './learner.js';
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

/** An experience's training data: the dataset, and the end of its window (windows mode). */
export interface ExperienceData extends AsyncDisposable {
  ds: Dataset;
  /** Positions the dataset at the start of the experience (pass a saved state to continue one). */
  rewind(state?: DatasetState): void;
  /** One pass over the experience (an epoch, or the window), as typed-array batches. */
  pass(signal?: AbortSignal): AsyncGenerator<Batch>;
}

/** An evaluation set, evaluated after every experience. */
export interface EvalSet {
  name: string;
  task: number | undefined;
  open(signal?: AbortSignal): Promise<Dataset>;
  fields: BatchFields;
}

/** Everything the loop needs to know about the data. */
export interface DataPlan {
  experiences: Experience[];
  evals: EvalSet[];
  numClasses: number;
  heads: number;
  /** Stream names, in order. */
  streams: string[];
  /** The time-varying weights (windows mode), with the STREAMS signals when they drive them. */
  schedule?: Schedule;
  signalsAt?: (step: number) => number[];
  /** Samples per schedule step, all ranks together. */
  stepSize?: number;
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
      s.config.input === sources[0]!.config.input &&
      s.config.label === sources[0]!.config.label,
  );
  if (plain)
    return { fields: { input: sources[0]!.config.input, label: sources[0]!.config.label } };
  type PerStream = NonNullable<StreamingDatasetOptions<Sample>['transform']>;
  const byName = new Map<string, PerStream>(
    sources.map((s): [string, PerStream] => {
      const c = s.config;
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
            return { x: out.image.data, y: out.label };
          },
        ];
      }
      return [c.name, (raw) => ({ x: (raw as Sample)[c.input], y: (raw as Sample)[c.label] })];
    }),
  );
  return {
    transform: (raw, r, call) => byName.get(String(call.coords?.stream))!(raw, r, call) as Sample,
    fields: { input: 'x', label: 'y' },
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

/** Builds the experiences and evaluation sets of a run from its resolved sources. */
export function planData(config: RunConfig, sources: StreamSource[]): DataPlan {
  const { transform, fields } = transformFor(sources);
  const names = sources.map((s) => s.config.name);
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
    field: BatchFields,
  ): EvalSet => ({
    name,
    task,
    fields: field,
    open: (signal) =>
      StreamingDataset.open<Sample>({
        ...datasetOptions(config),
        streams: parts.map((p) => ({ name: p.stream, ...location(p.at) })),
        order: 'sequential',
        batchSize: config.eval.batchSize,
        transform,
        world: { rank: 0, worldSize: 1, localRank: 0, localWorldSize: 1 }, // every rank evaluates its own model on all of it
        signal,
      }),
  });
  const e = config.experiences;
  if (e.kind === 'streams') {
    throw new StreamsError(
      'STREAMS_NOT_IMPLEMENTED',
      '[streams/trainer] experiences.kind "streams" (STREAMS getStream experiences) arrives with the STREAMS datasets of @streams/multistream',
      { fix: 'use experiences.kind tasks, or windows with schedule.kind streams' },
    );
  }
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
          return epochData(ds, fields, headOf(k));
        },
      }),
    );
    const evals = Array.from({ length: tasks }, (_, k) =>
      evalOf(
        `task ${k} (${taskName(k)})`,
        headOf(k),
        sources.map((s) => ({ stream: s.config.name, at: s.test![k]! })),
        fields,
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
    };
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
        return windowData(ds, fields, k * w * stepSize, (k + 1) * w * stepSize);
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
            fields,
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
    schedule,
    signalsAt,
    stepSize,
  };
}

function streamKnobs(s: StreamSource): Partial<StreamOptions> {
  const c = s.config;
  return {
    ...(c.downloadRetry !== undefined ? { downloadRetry: c.downloadRetry } : {}),
    ...(c.downloadTimeout !== undefined ? { downloadTimeout: c.downloadTimeout } : {}),
    ...(c.validateHash !== undefined ? { validateHash: c.validateHash } : {}),
  } as Partial<StreamOptions>;
}

/** Tasks mode: each pass is the dataset's next epoch (a resumed state continues the current one). */
function epochData(ds: Dataset, fields: BatchFields, task: number | undefined): ExperienceData {
  return {
    ds,
    rewind(state) {
      if (state) ds.loadStateDict(state);
      else ds.setEpoch(0);
    },
    async *pass(signal) {
      for await (const samples of ds.batches({ signal })) yield toBatch(samples, fields, task);
    },
    [Symbol.asyncDispose]: () => ds.close(),
  };
}

/** Windows mode: each pass reads the window [start, end) of the scheduled sequence. */
function windowData(ds: Dataset, fields: BatchFields, start: number, end: number): ExperienceData {
  const base = ds.stateDict();
  let resumed: DatasetState | undefined;
  return {
    ds,
    rewind(state) {
      resumed = state;
    },
    async *pass(signal) {
      const from = resumed ?? {
        ...base,
        samplesSeen: start,
        schedulePosition: start / (base.scheduleStepSize ?? 1),
      };
      resumed = undefined;
      ds.loadStateDict(from);
      if (from.samplesSeen >= end) return;
      for await (const samples of ds.batches({ signal })) {
        yield toBatch(samples, fields, undefined);
        if (ds.stateDict().samplesSeen >= end) return;
      }
    },
    [Symbol.asyncDispose]: () => ds.close(),
  };
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
