// The training loop of `streams train`: every learner in turn trains on every experience, is
// evaluated on every evaluation set after each one, logs step windows and evaluations to
// metrics.jsonl, and checkpoints atomically every N steps and at each experience's end, so a run
// killed at any point continues exactly from its last checkpoint.
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type BackendInfo, selectBackend } from '@streams/cl';
import { abortError, StreamsError, throwIfAborted, world } from '@streams/core';
import {
  findCheckpoint,
  readCheckpoint,
  type StepWindow,
  type TrainerState,
  writeCheckpoint,
} from './checkpoint.js';
import { type DataPlan, type EvalSet, type Experience, planData } from './experiences.js';
import { Learner } from './learner.js';
import type { LearnerShape } from './learnerTypes.js';
import { MetricsLog } from './metricsLog.js';
import type { RunConfig } from './runConfig.js';
import { describeBackend } from './runSummary.js';
import { resolveSources } from './sources.js';
import { planStreams } from './streamsExperiences.js';
import { registerTrainerDatasets } from './trainerDatasets.js';
import type { ProgressFields, TrainProgress } from './trainProgress.js';
import { ExperienceWorker } from './workerExperiences.js';

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
  backend: BackendInfo;
  learners: Array<{ name: string; description: string; weightsHash: string }>;
}

/** Hash of the effective config: checkpoints carry it so a resume under another config is refused. */
export function configHash(config: RunConfig): string {
  return createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 16);
}

/** Starts the config's TensorFlow.js backend (auto: STREAMS_TF_BACKEND, else the best one built). */
export async function startBackend(config: RunConfig): Promise<BackendInfo> {
  // TensorFlow's C++ log lines are not the run's business (its two start-up notes, absl's and
  // oneDNN's, are written before the level is read, and show anyway).
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
  return selectBackend(config.backend === 'auto' ? {} : { backend: config.backend });
}

/**
 * The experiences and evaluation sets of a config (writing registered datasets as MDS on first
 * use); with `data.worker`, a worker thread reads the experiences' data. Dispose it at the end.
 */
export async function planRun(
  config: RunConfig,
  options: { signal?: AbortSignal; log?: (line: string) => void; worker?: boolean } = {},
): Promise<DataPlan & AsyncDisposable> {
  registerTrainerDatasets();
  const none = async () => {};
  if (config.experiences.kind === 'streams') {
    return { ...(await planStreams(config, options.signal)), [Symbol.asyncDispose]: none };
  }
  const sources = await resolveSources(config, options);
  const plan = planData(config, sources);
  if (!(options.worker ?? config.data.worker)) return { ...plan, [Symbol.asyncDispose]: none };
  const offloaded = ExperienceWorker.offload(plan, config, sources);
  return {
    ...offloaded.plan,
    [Symbol.asyncDispose]: () => offloaded.worker[Symbol.asyncDispose](),
  };
}

/** What a learner's model is made for: the data's sample shape, classes, heads and the mode. */
export async function learnerShape(
  config: RunConfig,
  plan: DataPlan,
  signal?: AbortSignal,
): Promise<LearnerShape> {
  return {
    inputShape: plan.inputShape ?? [await probeInputSize(plan.experiences[0]!, signal)],
    numClasses: plan.numClasses,
    heads: plan.heads,
    mode: config.experiences.mode,
    seed: config.seed,
  };
}

/** Trains every learner of the config on every experience; resumable from any checkpoint. */
export async function runTraining(o: TrainRunOptions): Promise<TrainRunResult> {
  const { config, dir, progress } = o;
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
  }
  const backend = await startBackend(config);
  progress.log(`backend: ${describeBackend(backend)}`);
  if (state && resumeDir) {
    progress.log(
      `resuming from ${resumeDir} (learner ${state.learner + 1}, experience ${state.experience + 1}, step ${state.step})`,
    );
    if (state.backend !== backend.name) {
      progress.log(
        `the checkpoint was written on the ${state.backend} backend: on ${backend.name} the run continues, but not bit for bit (set STREAMS_TF_BACKEND=${state.backend} for that)`,
      );
    }
  }
  await using plan = await planRun(config, { signal: o.signal, log: (l) => progress.log(l) });
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  const shape = await learnerShape(config, plan, o.signal);
  await using log = await MetricsLog.open(join(dir, 'metrics.jsonl'), state?.metricsBytes);
  if (!state) {
    await log.write({
      type: 'run',
      time: new Date().toISOString(),
      name: config.name,
      config,
      backend,
      world: world(),
      streams: plan.streams,
      evals: plan.evals.map((e) => e.name),
      experiences: plan.experiences.map((e) => e.name),
      ...(plan.signalNames ? { signals: plan.signalNames } : {}),
    });
  }
  const results: TrainRunResult['learners'] = [];
  const run: RunContext = { config, dir, hash, backend: backend.name, plan, log, progress, o };
  let counters = { seq: state?.seq ?? 0, step: 0 };
  for (let li = state?.learner ?? 0; li < config.learners.length; li++) {
    const cfg = config.learners[li]!;
    const resumed = state?.learner === li ? state : undefined;
    const learner = resumed
      ? await Learner.load(join(resumeDir!, 'learner'))
      : Learner.create(cfg, shape);
    try {
      const totals = {
        seq: counters.seq,
        step: resumed?.step ?? 0,
        samples: resumed?.samples ?? 0,
        trainSeconds: resumed?.trainSeconds ?? 0,
        checkpointSeconds: resumed?.checkpointSeconds ?? 0,
      };
      // The untrained model's results are the baseline of forward transfer.
      if (!resumed) await evaluateAll(learner, plan.evals, -1, cfg.name, log, o.signal);
      for (let k = resumed?.experience ?? 0; k < plan.experiences.length; k++) {
        const continuing = resumed?.experience === k && resumed.started ? resumed : undefined;
        await trainExperience(run, { index: li, name: cfg.name, learner }, k, totals, continuing);
      }
      const weightsHash = await learner.weightsHash();
      await log.write({
        type: 'learner',
        learner: cfg.name,
        description: learner.description,
        weightsHash,
        trainSeconds: totals.trainSeconds,
        checkpointSeconds: totals.checkpointSeconds,
        samples: totals.samples,
        memory: learner.memory(),
      });
      results.push({ name: cfg.name, description: learner.description, weightsHash });
      counters = { seq: totals.seq, step: 0 };
    } finally {
      learner.dispose();
    }
    state = undefined;
  }
  progress.stop();
  await log.write({ type: 'end', time: new Date().toISOString() });
  return { dir, backend, learners: results };
}

interface RunContext {
  config: RunConfig;
  dir: string;
  hash: string;
  backend: string;
  plan: DataPlan;
  log: MetricsLog;
  progress: TrainProgress;
  o: TrainRunOptions;
}

/** Counters of one learner across its experiences (saved in every checkpoint). */
interface LearnerTotals {
  seq: number;
  step: number;
  samples: number;
  /** Training time: steps and the end-of-experience work, without evaluations and checkpoint writes. */
  trainSeconds: number;
  /** Time spent writing checkpoints. */
  checkpointSeconds: number;
}

const emptyWindow = (): StepWindow => ({
  steps: 0,
  lossSteps: 0,
  loss: 0,
  accuracySteps: 0,
  accuracy: 0,
  samples: 0,
  streams: [],
  targets: [],
});

/** Trains experience `k` (or continues it from a checkpoint), evaluates, and checkpoints its end. */
async function trainExperience(
  run: RunContext,
  who: { index: number; name: string; learner: Learner },
  k: number,
  totals: LearnerTotals,
  continuing: TrainerState | undefined,
): Promise<void> {
  const { config, plan, log, progress, o } = run;
  const { learner } = who;
  const exp: Experience = plan.experiences[k]!;
  const epochs = config.train.epochs;
  await using data = await exp.open(o.signal);
  await data.rewind(continuing?.data ?? undefined);
  if (!continuing) await learner.beginExperience(k);
  const window: StepWindow = continuing ? structuredClone(continuing.window) : emptyWindow();
  const total = data.stepsPerPass * epochs;
  let done = continuing?.stepInExperience ?? 0;
  let windowStart = performance.now();
  const started = performance.now();
  let checkpointMs = 0; // checkpoint writes of this experience: not training time
  const trainedSeconds = () => (performance.now() - started - checkpointMs) / 1000;
  const fields = (): ProgressFields => ({
    learner: who.name,
    experience: `${k + 1}/${plan.experiences.length}`,
    epoch: `${Math.min(data.passes + 1, epochs)}/${epochs}`,
    samplesPerSecond: 0,
    loss: window.lossSteps > 0 ? window.loss / window.lossSteps : null,
    accuracy: window.accuracySteps > 0 ? window.accuracy / window.accuracySteps : null,
    cacheHitRate: data.figures().cacheHitRate,
    shares: [],
  });
  let shown = fields();
  progress.begin(total, shown);
  const checkpoint = async (reason: TrainerState['reason'], end: boolean) => {
    const t = performance.now();
    totals.seq += 1;
    const s: TrainerState = {
      version: 2,
      seq: totals.seq,
      reason,
      configHash: run.hash,
      backend: run.backend,
      learner: who.index,
      experience: end ? k + 1 : k,
      started: !end,
      data: end ? null : data.position(),
      step: totals.step,
      stepInExperience: end ? 0 : done,
      samples: totals.samples,
      metricsBytes: log.bytes,
      window: structuredClone(window),
      trainSeconds: end ? totals.trainSeconds : totals.trainSeconds + trainedSeconds(),
      checkpointSeconds: totals.checkpointSeconds,
    };
    const path = await writeCheckpoint(
      join(run.dir, 'checkpoints'),
      s,
      (d) => learner.save(d),
      config.train.keepCheckpoints,
    );
    await log.write({
      type: 'checkpoint',
      learner: who.name,
      experience: s.experience,
      step: totals.step,
      path,
      reason,
    });
    const ms = performance.now() - t;
    checkpointMs += ms;
    windowStart += ms; // nor part of the window's samples/s
    totals.checkpointSeconds += ms / 1000;
    return path;
  };
  let lastCounts = data.figures().streamCounts;
  /** Writes the step window's line to metrics.jsonl and the progress display. */
  const flush = async () => {
    if (window.steps === 0) return;
    const now = performance.now();
    const f = data.figures();
    const sum = window.streams.reduce((a, b) => a + b, 0);
    const signals = data.signals();
    const line = {
      type: 'step' as const,
      learner: who.name,
      experience: k,
      epoch: Math.min(data.passes, epochs - 1),
      step: totals.step,
      samples: totals.samples,
      loss: window.lossSteps > 0 ? window.loss / window.lossSteps : null,
      accuracy: window.accuracySteps > 0 ? window.accuracy / window.accuracySteps : null,
      samplesPerSecond: (window.samples * 1000) / Math.max(now - windowStart, 1e-3),
      waitMs: f.waitMs,
      cacheHitRate: f.cacheHitRate,
      cacheHits: f.cacheHits,
      cacheMisses: f.cacheMisses,
      shares: plan.streams.map((stream, i) => ({
        stream,
        target: (window.targets[i] ?? 0) / window.steps,
        actual: sum > 0 ? (window.streams[i] ?? 0) / sum : 0,
      })),
      ...(signals ? { signals } : {}),
    };
    await log.write(line);
    shown = { ...fields(), samplesPerSecond: line.samplesPerSecond, shares: line.shares };
    progress.update(done, shown);
    Object.assign(window, emptyWindow());
    windowStart = now;
  };
  while (data.passes < epochs) {
    for await (const batch of data.pass(o.signal)) {
      throwIfAborted(o.signal);
      // The batch accuracy of each window is measured on its first step (before the update).
      const info = await learner.trainBatch(batch, { measure: window.steps === 0 });
      totals.step += 1;
      done += 1;
      totals.samples += info.samples;
      window.steps += 1;
      window.samples += info.samples;
      if (info.loss !== null) {
        window.lossSteps += 1;
        window.loss += info.loss;
      }
      if (info.accuracy !== null) {
        window.accuracySteps += 1;
        window.accuracy += info.accuracy;
      }
      // Per-step stream counts and targets, so each line's shares cover exactly its window
      // (also across a resume: the window's sums are part of the checkpoint).
      const counts = data.figures().streamCounts;
      const targets = data.targets();
      for (let i = 0; i < counts.length; i++) {
        window.streams[i] = (window.streams[i] ?? 0) + counts[i]! - (lastCounts[i] ?? 0);
        window.targets[i] = (window.targets[i] ?? 0) + (targets[i] ?? 0);
      }
      lastCounts = counts;
      if (window.steps >= config.train.logEvery) await flush();
      if (o.stop?.aborted) {
        const path = await checkpoint('interrupted', false);
        progress.stop();
        throw abortError(
          `interrupted: checkpoint written to ${path}; continue with --resume ${run.dir}`,
        );
      }
      if (config.train.checkpointEvery > 0 && totals.step % config.train.checkpointEvery === 0)
        await checkpoint('steps', false);
    }
  }
  throwIfAborted(o.signal);
  await flush();
  // GDumb and joint train here, on their memory: part of the experience's training time.
  await learner.endExperience();
  totals.trainSeconds += trainedSeconds();
  await evaluateAll(learner, plan.evals, k, who.name, log, o.signal);
  await checkpoint('experience', true);
  progress.update(total, shown); // the last window's figures (the window itself was just written and reset)
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
    const r = await learner.evaluate(set.batches(signal), { signal });
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

/** Input size of a stream that is not a registered dataset: read from its first batch. */
async function probeInputSize(exp: Experience, signal?: AbortSignal): Promise<number> {
  await using data = await exp.open(signal);
  await data.rewind();
  for await (const b of data.pass(signal)) return b.x.length / Math.max(1, b.y?.length ?? 1);
  return 0;
}
