// Experiences of `experiences.kind: streams`: a registered dataset turned into a non-stationary
// stream by STREAMS waveforms over one domain column (@streams/multistream's StreamsDataset), cut
// by `getStream` into train experiences of a window of steps, each tested on the draws of the steps
// that follow it. The dataset is held in memory; a pass is a seeded shuffle of the experience.
import type { Batch } from '@streams/cl';
import { rng, StreamsError } from '@streams/core';
import {
  StreamsDataset,
  type StreamsDatasetOptions,
  type StreamsExperience,
} from '@streams/multistream';
import type { DataPlan, EvalSet, Experience, ExperienceData } from './experiences.js';
import type { RunConfig, StreamConfig } from './runConfig.js';

/** Plans the STREAMS experiences of a config: one stream, a registered dataset. */
export async function planStreams(config: RunConfig, signal?: AbortSignal): Promise<DataPlan> {
  const s = onlyStream(config);
  const e = config.experiences;
  const w = config.schedule;
  if (w && w.kind !== 'streams') {
    throw new StreamsError(
      'STREAMS_INVALID_CONFIG',
      `[streams/trainer] experiences.kind streams takes a schedule of kind streams (its waveform), not ${w.kind}`,
      { fix: 'set schedule.kind: streams, or leave schedule out for the default waveform' },
    );
  }
  const steps = e.windows * e.stepsPerWindow + e.testWindow;
  const options: StreamsDatasetOptions = {
    seed: config.seed,
    batchSize: e.drawsPerStep,
    domains: [e.domain],
    maxSteps: steps,
    ...(w
      ? { duration: w.duration, peaks: w.peaks, maxDelta: w.maxDelta, temperature: w.temperature }
      : {}),
    ...(s.datasetOptions ? { datasetOptions: s.datasetOptions } : {}),
    signal,
  };
  const ds = await StreamsDataset.open(s.dataset!, options);
  ds.step(steps);
  const { train, test } = ds.getStream({
    experienceSize: e.stepsPerWindow,
    testWindow: e.testWindow,
  });
  const weight = typeof s.sampleWeight === 'number' ? s.sampleWeight : undefined;
  const experiences = train.map(
    (x, k): Experience => ({
      index: k,
      name: `steps ${x.from}-${x.to - 1}`,
      task: undefined,
      open: async () =>
        streamsData(x, {
          batchSize: config.data.batchSize,
          seed: config.seed,
          weight,
          signalsAt: (step) => Array.from(ds.waveform.signalsAt(step)),
        }),
    }),
  );
  const evals = test.map(
    (x): EvalSet => ({
      name: `steps ${x.from}-${x.to - 1}`,
      task: undefined,
      async *batches() {
        yield* x.batches({ batchSize: config.eval.batchSize });
      },
    }),
  );
  const names = ds.dataset.classNames;
  return {
    experiences,
    evals,
    numClasses: ds.dataset.numClasses,
    heads: 1,
    streams: [s.name],
    inputShape: [...ds.dataset.shape],
    signalNames: ds.waveform.values.map((v) =>
      v.column === 'label' && names?.[Number(v.value)] !== undefined
        ? names[Number(v.value)]!
        : `${v.column} ${v.value}`,
    ),
  };
}

function onlyStream(config: RunConfig): StreamConfig {
  const s = config.streams[0]!;
  const problem =
    config.streams.length !== 1
      ? `has ${config.streams.length} streams`
      : s.dataset === undefined
        ? `streams[0] (${s.name}) is a url`
        : s.rotate !== 0
          ? `streams[0] (${s.name}) rotates its images`
          : typeof s.sampleWeight === 'string'
            ? `streams[0] (${s.name}) reads sample weights from a column`
            : undefined;
  if (problem) {
    throw new StreamsError(
      'STREAMS_INVALID_CONFIG',
      `[streams/trainer] experiences.kind streams draws from one registered dataset, but the config ${problem}`,
      {
        fix: 'give one stream with a registered dataset (and at most a numeric sampleWeight), or use experiences.kind windows with schedule.kind streams to mix streams',
      },
    );
  }
  return s;
}

/** One STREAMS experience in memory: each pass is a seeded shuffle of its samples, in batches. */
function streamsData(
  x: StreamsExperience,
  o: {
    batchSize: number;
    seed: number;
    weight: number | undefined;
    signalsAt: (step: number) => number[];
  },
): ExperienceData {
  const stepsPerPass = Math.ceil(x.numSamples / o.batchSize);
  let passes = 0;
  let batch = 0;
  let skip = 0;
  return {
    get passes() {
      return passes;
    },
    stepsPerPass,
    async rewind(saved) {
      passes = saved?.passes ?? 0;
      batch = skip = saved?.batch ?? 0;
    },
    position: () => ({ passes, dataset: null, batch }),
    async *pass() {
      const seed = Number(rng(o.seed, 'streams-experience', x.id, passes).nextUint32());
      for await (const b of x.batches({ batchSize: o.batchSize, shuffle: true, seed })) {
        if (skip > 0) {
          skip--;
          continue;
        }
        batch += 1;
        yield o.weight === undefined
          ? (b as Batch)
          : { ...b, weight: new Float32Array(b.y.length).fill(o.weight) };
      }
      passes += 1;
      batch = 0;
    },
    figures: () => ({
      waitMs: 0,
      cacheHitRate: 0,
      cacheHits: 0,
      cacheMisses: 0,
      streamCounts: [passes * x.numSamples + Math.min(batch * o.batchSize, x.numSamples)],
    }),
    targets: () => [1],
    // The signals where the experience's window of steps stands, in proportion to the pass.
    signals: () =>
      o.signalsAt(
        x.from + Math.min(x.to - x.from - 1, Math.floor(((x.to - x.from) * batch) / stepsPerPass)),
      ),
    [Symbol.asyncDispose]: async () => {},
  };
}
