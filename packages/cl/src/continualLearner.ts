// The continual learner, the package's API: experiences, training steps with the strategies'
// hooks, prediction, and state and checkpoints. Evaluation (evaluateModel.ts), grouped per-batch
// gradients (groupGradients.ts), the trained part of the state (trainingState.ts) and the
// checkpoint directory (checkpoint.ts) live in their own files.
//
// tfjs-core's gradients ship only as ESM files plain Node cannot load; the tfjs union's Node
// bundle registers them (into the one engine that tfjs-core, tfjs-node and the backends share).
import '@tensorflow/tfjs';
import { Rng, rng, StreamsError, throwIfAborted } from '@streams/core';
import * as tf from '@tensorflow/tfjs-core';
import {
  type Batch,
  type BatchSource,
  batchSize,
  type TensorBatch,
  takeRows,
  toTensors,
} from './batch.js';
import { readCheckpoint, writeCheckpoint } from './checkpoint.js';
import { evaluateModel } from './evaluateModel.js';
import { groupGradients } from './groupGradients.js';
import type { EvalResult, LearnerProgress, TrainExperienceOptions } from './learnerTypes.js';
import { perSampleLoss, reduceLoss } from './losses.js';
import type { MemoryBuffer, MemoryReport } from './memoryBuffer.js';
import { createModel, type ModelSpec } from './modelRegistry.js';
import type { Model, ModelSpecBase } from './models/model.js';
import { Optimizer, type OptimizerConfig } from './optimizer.js';
import type { LearnerMode, StateArrays, Strategy, StrategyContext } from './strategy.js';
import { createStrategy, type StrategyConfig } from './strategyRegistry.js';
import { TaskRouting } from './taskRouting.js';
import { captureTrainedState, restoreTrainedState } from './trainingState.js';

/** Callbacks around experiences and steps (not saved in checkpoints: pass them again to `load`). */
export interface LearnerHooks {
  beforeExperience?(learner: ContinualLearner, experience: number): void | Promise<void>;
  afterExperience?(learner: ContinualLearner, experience: number): void | Promise<void>;
}

/** Options of a {@link ContinualLearner}; everything but `hooks` is JSON and saved in checkpoints. */
export interface LearnerOptions {
  /** The model spec (`createModel` builds it with the learner's seed). */
  model: ModelSpec | ModelSpecBase;
  optimizer: OptimizerConfig;
  /** One strategy or several composed, by name or `{ name, ...options }` (default `naive`). */
  strategy?: string | StrategyConfig | (string | StrategyConfig)[];
  /** Default `class-incremental`. */
  mode?: LearnerMode;
  /**
   * Task-incremental with a single-head model: the classes of each task (index = task id); the
   * other logits are masked. Multi-head models pick the head by task id instead.
   */
  taskClasses?: number[][];
  /** Seeds weights, dropout and every strategy's sampling (default 0). */
  seed?: number;
  hooks?: LearnerHooks;
}

/** A learner's full state: JSON and named arrays (what a checkpoint stores). */
export interface LearnerState {
  options: Omit<LearnerOptions, 'hooks'>;
  meta: {
    progress: LearnerProgress;
    rng: [number, number, number, number];
    seenClasses: number[];
    seenTasks: number[];
    optimizerStep: number;
    optimizerSlots: number;
    strategies: unknown[];
  };
  arrays: StateArrays;
}

type Source = BatchSource | (() => BatchSource);

/**
 * Trains one model over a sequence of experiences with composable continual-learning strategies.
 * Runs on whichever TensorFlow.js backend is active; every random choice is seeded.
 */
export class ContinualLearner {
  readonly model: Model;
  readonly mode: LearnerMode;
  readonly strategies: readonly Strategy[];
  readonly optimizer: Optimizer;
  private readonly options: LearnerOptions;
  private rng: Rng;
  private readonly classes = new Set<number>();
  private readonly tasks = new Set<number>();
  private readonly routing: TaskRouting;
  private progressState: LearnerProgress = {
    experience: -1,
    inExperience: false,
    epoch: 0,
    batch: 0,
    step: 0,
    finished: [],
  };
  /** The context strategies see (also handy in tests). */
  readonly context: StrategyContext;

  constructor(options: LearnerOptions) {
    this.options = options;
    const seed = options.seed ?? 0;
    this.mode = options.mode ?? 'class-incremental';
    if (this.mode !== 'class-incremental' && this.mode !== 'task-incremental') {
      throw new StreamsError('STREAMS_INVALID_CONFIG', `[streams/cl] unknown mode "${this.mode}"`, {
        fix: "use 'class-incremental' or 'task-incremental'",
      });
    }
    this.model = createModel(options.model, { seed });
    try {
      this.optimizer = new Optimizer(options.optimizer, this.model.params);
      this.rng = rng(seed, 'learner');
      this.routing = new TaskRouting(this.model, this.mode, options.taskClasses);
      const configs = normalizeStrategies(options.strategy);
      this.strategies = configs.map(({ name, ...rest }, i) =>
        createStrategy(name, rest, Number(rng(seed, 'strategy', i).nextUint32())),
      );
      const alone = this.strategies.find((s) => !s.trainsOnStream);
      if (alone && this.strategies.length > 1) {
        throw new StreamsError(
          'STREAMS_INVALID_CONFIG',
          `[streams/cl] ${alone.name} trains only at the end of each experience and cannot be combined with other strategies`,
          { fix: 'use it alone' },
        );
      }
    } catch (err) {
      this.model.dispose(); // no variables left behind by a refused configuration
      throw err;
    }
    this.context = this.makeContext();
  }

  /** Where the learner is (experience, epoch, batch, step). */
  get progress(): Readonly<LearnerProgress> {
    return this.progressState;
  }

  /** The options the learner was made with (JSON; saved in checkpoints). */
  get config(): Omit<LearnerOptions, 'hooks'> {
    const { hooks: _hooks, ...rest } = this.options;
    return rest;
  }

  /** Memory reports of every strategy that keeps one. */
  memory(): MemoryReport[] {
    return this.strategies.flatMap((s) => s.memoryReports?.() ?? []);
  }

  /** Opens an experience: strategies and hooks prepare for it. */
  async beginExperience(experience = this.progressState.experience + 1): Promise<void> {
    if (this.progressState.inExperience) {
      throw new StreamsError(
        'STREAMS_INVALID_ARGUMENT',
        `[streams/cl] experience ${this.progressState.experience} is still open`,
        {
          fix: 'call endExperience() first',
        },
      );
    }
    if (!Number.isInteger(experience) || experience < 0) {
      throw new StreamsError(
        'STREAMS_INVALID_ARGUMENT',
        `[streams/cl] experience ids are integers >= 0, got ${experience}`,
      );
    }
    this.progressState = {
      ...this.progressState,
      experience,
      inExperience: true,
      epoch: 0,
      batch: 0,
    };
    for (const s of this.strategies) await s.beforeExperience?.(this.context);
    await this.options.hooks?.beforeExperience?.(this, experience);
  }

  /** Closes the current experience: strategies consolidate (Fisher, importance, snapshots, refits). */
  async endExperience(): Promise<void> {
    if (!this.progressState.inExperience) {
      throw new StreamsError('STREAMS_INVALID_ARGUMENT', '[streams/cl] no experience is open', {
        fix: 'call beginExperience() first',
      });
    }
    for (const s of this.strategies) await s.afterExperience?.(this.context);
    const e = this.progressState.experience;
    this.progressState = {
      ...this.progressState,
      inExperience: false,
      finished: [...this.progressState.finished, e],
    };
    await this.options.hooks?.afterExperience?.(this, e);
  }

  /** One step on one batch (opens the next experience if none is open). */
  async trainBatch(batch: Batch): Promise<{ loss: number | null; trainedSamples: number }> {
    if (!this.progressState.inExperience) await this.beginExperience();
    const n = this.check(batch);
    if (this.model.task === 'classification')
      for (const c of batch.y as Int32Array) this.classes.add(c);
    if (batch.task) for (const t of batch.task) this.tasks.add(t);
    let result: { loss: number | null; trainedSamples: number } = { loss: null, trainedSamples: 0 };
    if (this.strategies.every((s) => s.trainsOnStream)) result = this.step(batch, n, true);
    for (const s of this.strategies) s.observe?.(this.context, batch, n);
    this.progressState.batch++;
    return result;
  }

  /**
   * Trains one experience: `epochs` passes over `batches`, then the strategies' end-of-experience
   * work. Resumes exactly when the learner was loaded mid-experience.
   */
  async trainExperience(
    batches: Source,
    options: TrainExperienceOptions = {},
  ): Promise<{ steps: number; samples: number }> {
    const epochs = options.epochs ?? 1;
    const p = this.progressState;
    if (typeof batches !== 'function' && epochs - p.epoch > 1 && isOneShot(batches)) {
      throw new StreamsError(
        'STREAMS_INVALID_ARGUMENT',
        `[streams/cl] ${epochs} epochs need the batches again each epoch, but they come from a one-shot iterator`,
        { fix: 'pass an array, or a function that returns a fresh iterable for each epoch' },
      );
    }
    const resuming =
      p.inExperience && (options.experience === undefined || options.experience === p.experience);
    if (!resuming) await this.beginExperience(options.experience ?? p.experience + 1);
    const first = this.progressState.epoch;
    let steps = 0;
    let samples = 0;
    for (let epoch = first; epoch < epochs; epoch++) {
      const source = typeof batches === 'function' ? batches() : batches;
      let skip = epoch === first && resuming && !options.dataResumed ? this.progressState.batch : 0;
      for await (const batch of source) {
        if (skip > 0) {
          skip--;
          continue;
        }
        throwIfAborted(options.signal);
        const index = this.progressState.batch;
        const r = await this.trainBatch(batch);
        steps += r.loss === null ? 0 : 1;
        const n = batch.x.length / this.model.inputShape.reduce((a, b) => a * b, 1);
        samples += n;
        await options.onStep?.({
          experience: this.progressState.experience,
          epoch,
          batch: index,
          step: this.progressState.step,
          loss: r.loss,
          samples: n,
          trainedSamples: r.trainedSamples,
        });
      }
      this.progressState.epoch = epoch + 1;
      this.progressState.batch = 0;
    }
    throwIfAborted(options.signal);
    await this.endExperience();
    return { steps, samples };
  }

  /** Loss (and accuracy for classifiers) over `batches`, overall and per task id. */
  async evaluate(batches: BatchSource, options: { confusion?: boolean } = {}): Promise<EvalResult> {
    return evaluateModel(this.model, this.routing, batches, options);
  }

  /** The model's outputs for `x` `[n, ...inputShape]` (the task's head or mask applied): logits, targets or reconstructions, `[n, outputSize]`. */
  async predict(x: Float32Array, options: { task?: Int32Array } = {}): Promise<Float32Array> {
    const n = x.length / this.model.inputShape.reduce((a, b) => a * b, 1);
    if (!(x instanceof Float32Array) || !Number.isInteger(n) || n === 0) {
      throw new StreamsError(
        'STREAMS_INVALID_ARGUMENT',
        `[streams/cl] predict needs a Float32Array of whole samples of [${this.model.inputShape}]`,
        {
          fix: 'check the input length against the model inputShape',
        },
      );
    }
    this.routing.check({ x, ...(options.task ? { task: options.task } : {}) }, n);
    const out = tf.tidy(() => {
      const xt = tf.tensor(x, [n, ...this.model.inputShape]);
      return this.routing.outputs(
        this.model.forward(xt),
        options.task ? tf.tensor1d(options.task, 'int32') : null,
      );
    });
    const data = (await out.data()) as Float32Array;
    out.dispose();
    return data;
  }

  /** The learner's full state, for checkpoints (see `saveCheckpoint`). */
  async getState(): Promise<LearnerState> {
    const trained = await captureTrainedState(this);
    return {
      options: this.config,
      meta: {
        progress: structuredClone(this.progressState),
        rng: this.rng.getState(),
        seenClasses: [...this.classes].sort((a, b) => a - b),
        seenTasks: [...this.tasks].sort((a, b) => a - b),
        ...trained.meta,
      },
      arrays: trained.arrays,
    };
  }

  /** Restores {@link getState}'s output into a learner made with the same options. */
  setState(state: LearnerState): void {
    const { meta, arrays } = state;
    restoreTrainedState(this, meta, arrays);
    this.progressState = structuredClone(meta.progress);
    this.rng = Rng.fromState(meta.rng);
    this.classes.clear();
    for (const k of meta.seenClasses) this.classes.add(k);
    this.tasks.clear();
    for (const k of meta.seenTasks) this.tasks.add(k);
  }

  /**
   * Saves weights, optimizer state, strategy state (memories included), options and progress to
   * `dir` atomically; `callerData` (JSON, e.g. the dataset state) is saved with them.
   */
  async save(dir: string, options: { callerData?: unknown } = {}): Promise<void> {
    const { arrays, ...state } = await this.getState();
    await writeCheckpoint(dir, {
      state,
      arrays,
      callerData: options.callerData,
      backend: tf.getBackend(),
    });
  }

  /** Loads a learner saved by {@link save}; training continues bit for bit on the same backend. */
  static async load(
    dir: string,
    options: { hooks?: LearnerHooks } = {},
  ): Promise<ContinualLearner> {
    return (await ContinualLearner.loadWithData(dir, options)).learner;
  }

  /** Like {@link load}, also returning the caller data saved with the checkpoint. */
  static async loadWithData(
    dir: string,
    options: { hooks?: LearnerHooks } = {},
  ): Promise<{ learner: ContinualLearner; callerData: unknown }> {
    const { manifest, arrays } = await readCheckpoint(dir);
    const state = manifest.state as Omit<LearnerState, 'arrays'>;
    const learner = new ContinualLearner({
      ...state.options,
      ...(options.hooks ? { hooks: options.hooks } : {}),
    });
    try {
      learner.setState({ ...state, arrays });
    } catch (err) {
      learner.dispose();
      throw err;
    }
    return { learner, callerData: manifest.callerData };
  }

  /** Frees every tensor the learner holds. */
  dispose(): void {
    for (const s of this.strategies) s.dispose();
    this.optimizer.dispose();
    this.model.dispose();
  }

  /** One optimizer step; `hooks` false runs a plain step (GDumb's and joint's refits). */
  private step(batch: Batch, n: number, hooks: boolean): { loss: number; trainedSamples: number } {
    const active = hooks ? this.strategies : [];
    let b = batch;
    let m = n;
    for (const s of active) if (s.augment) ({ batch: b, n: m } = s.augment(this.context, b, m));
    const seed = this.rng.nextUint32();
    const params = this.model.params;
    const lossTensor = tf.tidy(() => {
      const tb = toTensors(this.model, b, m);
      let { value, grads } = tf.variableGrads(
        () => {
          const raw = this.model.forward(tb.x, { training: true, seed });
          let loss = reduceLoss(
            perSampleLoss(this.model.task, this.routing.outputs(raw, tb.task), tb.y),
            tb.weight,
          );
          for (const s of active) {
            const p = s.penalty?.(this.context, tb, raw);
            if (p) loss = tf.add(loss, p);
          }
          return loss;
        },
        params.map((p) => p.variable),
      );
      let g = params.map((p) => grads[p.variable.name] ?? tf.zerosLike(p.variable));
      for (const s of active) {
        const term = s.penaltyGradients?.(this.context);
        if (!term) continue;
        value = tf.add(value, term.value);
        g = g.map((x, i) => tf.add(x, term.grads[i]!));
      }
      for (const s of active) if (s.project) g = s.project(this.context, g);
      this.optimizer.apply(g);
      for (const s of active) s.afterUpdate?.(this.context, g);
      return value;
    });
    const loss = lossTensor.dataSync()[0]!;
    lossTensor.dispose();
    this.progressState.step++;
    return { loss, trainedSamples: m };
  }

  private check(batch: Batch): number {
    const n = batchSize(this.model, batch);
    this.routing.check(batch, n);
    return n;
  }

  private makeContext(): StrategyContext {
    const self = this;
    return {
      model: this.model,
      mode: this.mode,
      get experience() {
        return self.progressState.experience;
      },
      get seenClasses() {
        return [...self.classes].sort((a, b) => a - b);
      },
      get seenTasks() {
        return [...self.tasks].sort((a, b) => a - b);
      },
      outputs: (raw, task) => this.routing.outputs(raw, task),
      upload: (batch, n) => toTensors(this.model, batch, n),
      sampleLosses: (tb: TensorBatch, values, training = false) =>
        perSampleLoss(
          this.model.task,
          this.routing.outputs(this.model.forward(tb.x, { training }, values), tb.task),
          tb.y,
        ),
      groupGradients: (batches) =>
        groupGradients(this.model, this.routing, this.context.gradients, batches),
      gradients: (batch, n) => {
        const tb = toTensors(this.model, batch, n);
        const params = this.model.params;
        const { grads } = tf.variableGrads(
          () => reduceLoss(this.context.sampleLosses(tb), tb.weight),
          params.map((p) => p.variable),
        );
        return params.map((p) => grads[p.variable.name] ?? tf.zerosLike(p.variable));
      },
      fitMemory: async (memory: MemoryBuffer, o) => {
        if (o.reinit) {
          this.model.init(o.rng.nextUint32());
          this.optimizer.reset();
        }
        const all = memory.all();
        if (!all) return;
        for (let e = 0; e < o.epochs; e++) {
          const order = o.rng.permutation(all.n);
          for (let i = 0; i < all.n; i += o.batchSize) {
            const rows = order.subarray(i, Math.min(all.n, i + o.batchSize));
            this.step(takeRows(all.batch, all.n, rows), rows.length, false);
          }
        }
      },
    };
  }
}

function normalizeStrategies(
  s: LearnerOptions['strategy'],
): { name: string; [k: string]: unknown }[] {
  const list = s === undefined ? ['naive'] : Array.isArray(s) ? s : [s];
  if (list.length === 0) return [{ name: 'naive' }];
  return list.map((x) => (typeof x === 'string' ? { name: x } : { ...x }));
}

function isOneShot(source: BatchSource): boolean {
  const it = source as {
    [Symbol.asyncIterator]?: () => unknown;
    [Symbol.iterator]?: () => unknown;
  };
  const make = it[Symbol.asyncIterator] ?? it[Symbol.iterator];
  return typeof make === 'function' && make.call(source) === source;
}
