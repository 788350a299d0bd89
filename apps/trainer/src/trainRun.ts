// The training loop of `streams train`: every learner in turn trains on every experience, is
// evaluated on every evaluation set after each one, logs step windows and evaluations to
// metrics.jsonl, and checkpoints atomically every N steps and at each experience's end, so a run
// killed at any point continues exactly from its last checkpoint.
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { abortError, StreamsError, throwIfAborted, world } from '@streams/core';
import type { DatasetState, StreamingDataset } from '@streams/multistream';
import { toBatch } from './batches.js';
import {
  findCheckpoint,
  readCheckpoint,
  type StepWindow,
  type TrainerState,
  writeCheckpoint,
} from './checkpoint.js';
import { type DataPlan, type EvalSet, planData } from './experiences.js';
import { assertSupported, createLearner, type Learner, loadLearner } from './learner.js';
import { MetricsLog } from './metricsLog.js';
import type { RunConfig } from './runConfig.js';
import { resolveSources } from './sources.js';
import type { TrainProgress } from './trainProgress.js';

export interface TrainRunOptions {
  config: RunConfig;
  /** Run directory (metrics.jsonl, checkpoints/, config.json). */
  dir: string;
  /** A checkpoint to continue from. */
  resume?: string;
  progress: TrainProgress;
  /** Aborts at once (a second Ctrl-C). */
  signal?: AbortSignal;
  /** Stops at the next step with a checkpoint (the first Ctrl-C or SIGTERM). */
  stop?: AbortSignal;
}

/** What a finished run hands back. */
export interface TrainRunResult {
  dir: string;
  learners: Array<{ name: string; description: string; weightsHash: string }>;
}

/** Hash of the effective config: checkpoints carry it so a resume under another config is refused. */
export function configHash(config: RunConfig): string {
  return createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 16);
}

/** Trains every learner of the config on every experience; resumable from any checkpoint. */
export async function runTraining(o: TrainRunOptions): Promise<TrainRunResult> {
  const { config, dir, progress } = o;
  for (const l of config.learners) assertSupported(l);
  const hash = configHash(config);
  let state: TrainerState | undefined;
  let resumeDir: string | undefined;
  if (o.resume) {
    resumeDir = await findCheckpoint(o.resume);
    state = await readCheckpoint(resumeDir);
    if (state.configHash !== hash) {
      throw new StreamsError(
        'STREAMS_STATE_INVALID',
        `[streams/trainer] the checkpoint ${resumeDir} was written under another config`,
        {
          fix: "resume with the run's own config (omit --config and --set), or start a new run",
        },
      );
    }
    progress.log(
      `resuming from ${resumeDir} (learner ${state.learner + 1}, experience ${state.experience + 1}, step ${state.step})`,
    );
  }
  const sources = await resolveSources(config, { signal: o.signal, log: (l) => progress.log(l) });
  const plan = planData(config, sources);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  const inputSize =
    sources.find((s) => s.inputSize !== undefined)?.inputSize ??
    (await probeInputSize(plan, o.signal));
  await using log = await MetricsLog.open(join(dir, 'metrics.jsonl'), state?.metricsBytes);
  const w = world();
  if (!state) {
    await log.write({
      type: 'run',
      time: new Date().toISOString(),
      name: config.name,
      config,
      backend: config.learners.map((l) => l.backend),
      world: w,
      streams: plan.streams,
      evals: plan.evals.map((e) => e.name),
      experiences: plan.experiences.map((e) => e.name),
    });
  }
  const results: TrainRunResult['learners'] = [];
  let seq = state?.seq ?? 0;
  let step = state?.step ?? 0;
  for (let li = state?.learner ?? 0; li < config.learners.length; li++) {
    const cfg = config.learners[li]!;
    const shape = { inputSize, numClasses: plan.numClasses, heads: plan.heads, seed: config.seed };
    const resuming = state !== undefined && state.learner === li;
    const learner: Learner = resuming
      ? await loadLearner(cfg, join(resumeDir!, 'learner'))
      : await createLearner(cfg, shape);
    let samples = resuming ? state!.samples : 0;
    let trainSeconds = resuming ? state!.trainSeconds : 0;
    if (!resuming) {
      step = 0;
      // The untrained model's accuracy is the baseline of forward transfer.
      await evaluateAll(learner, plan.evals, -1, cfg.name, log, o.signal);
    }
    for (let k = resuming ? state!.experience : 0; k < plan.experiences.length; k++) {
      const exp = plan.experiences[k]!;
      const continuing = resuming && state!.experience === k && state!.started;
      await using data = await exp.open(o.signal);
      data.rewind(continuing ? (state!.dataset ?? undefined) : undefined);
      // The pass in progress (an epoch of the experience, or of its window): passes left follow from it.
      let epoch = continuing ? state!.epoch : 0;
      const epochs = config.train.epochs - epoch;
      const window: StepWindow = continuing
        ? structuredClone(state!.window)
        : { steps: 0, loss: 0, accuracy: 0, samples: 0, streams: [], targets: [] };
      const stepsPerEpoch = plan.schedule
        ? config.experiences.stepsPerWindow
        : Math.ceil(data.ds.epochLength / (config.data.batchSize * w.worldSize));
      let done = continuing ? state!.stepInExperience : 0;
      const total = stepsPerEpoch * config.train.epochs;
      let windowStart = performance.now();
      let started = performance.now();
      const fields = () => ({
        learner: cfg.name,
        experience: `${k + 1}/${plan.experiences.length}`,
        epoch: `${Math.min(epoch + 1, config.train.epochs)}/${config.train.epochs}`,
        samplesPerSecond: 0,
        loss: window.steps > 0 ? window.loss / window.steps : 0,
        accuracy: window.steps > 0 ? window.accuracy / window.steps : 0,
        cacheHitRate: data.ds.metrics().cacheHitRate,
        shares: [] as Array<{ stream: string; target: number; actual: number }>,
      });
      let shown = fields();
      progress.begin(total, shown);
      const checkpoint = async (
        reason: TrainerState['reason'],
        at: { experience: number; started: boolean; dataset: DatasetState | null; epoch: number },
      ) => {
        seq += 1;
        const s: TrainerState = {
          version: 1,
          seq,
          reason,
          configHash: hash,
          learner: li,
          experience: at.experience,
          started: at.started,
          epoch: at.epoch,
          dataset: at.dataset,
          step,
          stepInExperience: at.started ? done : 0,
          samples,
          metricsBytes: log.bytes,
          window: structuredClone(window),
          trainSeconds: at.started
            ? trainSeconds + (performance.now() - started) / 1000
            : trainSeconds,
        };
        const path = await writeCheckpoint(
          join(dir, 'checkpoints'),
          s,
          (d) => learner.save(d),
          config.train.keepCheckpoints,
        );
        await log.write({
          type: 'checkpoint',
          learner: cfg.name,
          experience: at.experience,
          step,
          path,
          reason,
        });
        return path;
      };
      let lastCounts = streamCounts(data.ds);
      /** Writes the step window's line to metrics.jsonl and the progress display. */
      const flush = async () => {
        if (window.steps === 0) return;
        const now = performance.now();
        const m = data.ds.metrics();
        const sum = window.streams.reduce((a, b) => a + b, 0);
        const line = {
          type: 'step' as const,
          learner: cfg.name,
          experience: k,
          epoch,
          step,
          samples,
          loss: window.loss / window.steps,
          accuracy: window.accuracy / window.steps,
          samplesPerSecond: (window.samples * 1000) / Math.max(now - windowStart, 1e-3),
          waitMs: m.waitMs,
          cacheHitRate: m.cacheHitRate,
          cacheHits: m.cacheHits,
          cacheMisses: m.cacheMisses,
          shares: plan.streams.map((stream, i) => ({
            stream,
            target: (window.targets[i] ?? 0) / window.steps,
            actual: sum > 0 ? (window.streams[i] ?? 0) / sum : 0,
          })),
          ...(plan.signalsAt
            ? { signals: plan.signalsAt(Math.max(0, scheduleStep(data.ds) - 1)) }
            : {}),
        };
        await log.write(line);
        shown = { ...fields(), samplesPerSecond: line.samplesPerSecond, shares: line.shares };
        progress.update(done, shown);
        Object.assign(window, {
          steps: 0,
          loss: 0,
          accuracy: 0,
          samples: 0,
          streams: [],
          targets: [],
        });
        windowStart = now;
      };
      // Each iteration of `batches` is one epoch (or one pass over the window).
      const batches = {
        [Symbol.asyncIterator]: async function* () {
          yield* data.pass(o.signal);
          epoch += 1;
        },
      };
      await learner.trainExperience(batches, {
        experience: k,
        epochs,
        continuing,
        signal: o.signal,
        onStep: async (info) => {
          step += 1;
          done += 1;
          samples += info.samples;
          window.steps += 1;
          window.loss += info.loss;
          window.accuracy += info.accuracy;
          window.samples += info.samples;
          // Per-step stream counts and targets, so each line's shares cover exactly its window
          // (also across a resume: the window's sums are part of the checkpoint).
          const counts = streamCounts(data.ds);
          const targets = plan.schedule
            ? normalize(plan.schedule.weightsAt(Math.max(0, scheduleStep(data.ds) - 1)))
            : data.ds.weights.proportion;
          for (let i = 0; i < counts.length; i++) {
            window.streams[i] = (window.streams[i] ?? 0) + counts[i]! - (lastCounts[i] ?? 0);
            window.targets[i] = (window.targets[i] ?? 0) + (targets[i] ?? 0);
          }
          lastCounts = counts;
          if (window.steps >= config.train.logEvery) await flush();
          const dataset = data.ds.stateDict();
          if (o.stop?.aborted) {
            const path = await checkpoint('interrupted', {
              experience: k,
              started: true,
              dataset,
              epoch,
            });
            progress.stop();
            throw abortError(
              `interrupted: checkpoint written to ${path}; continue with --resume ${dir}`,
            );
          }
          if (config.train.checkpointEvery > 0 && step % config.train.checkpointEvery === 0) {
            await checkpoint('steps', { experience: k, started: true, dataset, epoch });
          }
        },
      });
      throwIfAborted(o.signal);
      await flush();
      trainSeconds += (performance.now() - started) / 1000;
      started = performance.now(); // evaluation time is not training time
      await evaluateAll(learner, plan.evals, k, cfg.name, log, o.signal);
      await checkpoint('experience', {
        experience: k + 1,
        started: false,
        dataset: null,
        epoch: 0,
      });
      progress.update(total, shown); // the last window's figures (the window itself was just written and reset)
    }
    state = undefined;
    const weightsHash = await learner.weightsHash();
    await log.write({
      type: 'learner',
      learner: cfg.name,
      description: learner.description,
      weightsHash,
      trainSeconds,
      samples,
    });
    results.push({ name: cfg.name, description: learner.description, weightsHash });
  }
  progress.stop();
  await log.write({ type: 'end', time: new Date().toISOString() });
  return { dir, learners: results };
}

async function evaluateAll(
  learner: Learner,
  evals: EvalSet[],
  experience: number,
  name: string,
  log: MetricsLog,
  signal?: AbortSignal,
): Promise<void> {
  for (const [j, set] of evals.entries()) {
    await using ds = await set.open(signal);
    const batches = (async function* () {
      for await (const samples of ds.batches({ signal }))
        yield toBatch(samples, set.fields, set.task);
    })();
    const r = await learner.evaluate(batches, { signal });
    await log.write({
      type: 'eval',
      learner: name,
      experience,
      set: j,
      name: set.name,
      accuracy: r.accuracy,
      loss: r.loss,
      count: r.count,
    });
  }
}

/** Samples read so far from each stream (the dataset reports shares of its running total). */
function streamCounts(ds: StreamingDataset<unknown>): number[] {
  const m = ds.metrics();
  return m.shares.map((s) => Math.round(s.actual * m.samples));
}

function scheduleStep(ds: { stateDict(): DatasetState }): number {
  return ds.stateDict().schedulePosition;
}

function normalize(w: number[]): number[] {
  const sum = w.reduce((a, b) => a + b, 0);
  return w.map((v) => (sum > 0 ? v / sum : 0));
}

/** Input size of a stream that is not a registered dataset: read from its first batch. */
async function probeInputSize(plan: DataPlan, signal?: AbortSignal): Promise<number> {
  await using data = await plan.experiences[0]!.open(signal);
  data.rewind();
  for await (const b of data.pass(signal)) return b.y.length > 0 ? b.x.length / b.y.length : 0;
  return 0;
}
