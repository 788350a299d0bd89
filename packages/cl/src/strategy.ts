import type { Rng } from '@streams/core';
import type * as tf from '@tensorflow/tfjs-core';
import type { Batch, TensorBatch } from './batch.js';
import type { MemoryBuffer, MemoryReport } from './memoryBuffer.js';
import type { Model } from './models/model.js';

/** Class-incremental: one output space for all classes. Task-incremental: task ids pick a head or a class mask. */
export type LearnerMode = 'class-incremental' | 'task-incremental';

/** Typed arrays a state carries beside its JSON. */
export type StateArrays = Record<string, Float32Array | Int32Array | Float64Array>;

/** A saveable state: JSON metadata and named typed arrays (written raw, restored bit for bit). */
export interface SavedState {
  meta: unknown;
  arrays: StateArrays;
}

/** What the learner offers its strategies. */
export interface StrategyContext {
  readonly model: Model;
  readonly mode: LearnerMode;
  /** The experience being trained. */
  readonly experience: number;
  /** Every class id seen in training so far, ascending (classification). */
  readonly seenClasses: readonly number[];
  /** Every task id seen in training so far, ascending. */
  readonly seenTasks: readonly number[];
  /** The outputs the task loss uses: the task's head or class mask applied to raw outputs. */
  outputs(raw: tf.Tensor2D, task: tf.Tensor1D | null): tf.Tensor2D;
  /** Checks and uploads `n` rows (call inside `tf.tidy`). */
  upload(batch: Batch, n: number): TensorBatch;
  /** Per-sample task losses `[n]` (unweighted) of a batch, for the model's variables or other `values`. */
  sampleLosses(tb: TensorBatch, values?: readonly tf.Tensor[], training?: boolean): tf.Tensor1D;
  /** Gradients of the weighted task loss on a batch in inference mode (no dropout), in `model.params` order (call inside `tf.tidy`). */
  gradients(batch: Batch, n: number): tf.Tensor[];
  /**
   * The gradients of {@link gradients} for several batches at once: one tensor per param in
   * `model.params` order, `[batches.length, ...shape]`. One backward pass where the model has
   * `forwardGroups`, else one per batch (call inside `tf.tidy`).
   */
  groupGradients(batches: readonly { batch: Batch; n: number }[]): tf.Tensor[];
  /**
   * Trains on every sample of `memory` for `epochs` in shuffled minibatches, with plain steps (no
   * strategy hooks); `reinit` first redraws the weights and clears the optimizer (GDumb, joint).
   */
  fitMemory(
    memory: MemoryBuffer,
    options: { epochs: number; batchSize: number; rng: Rng; reinit: boolean },
  ): Promise<void>;
}

/**
 * A continual-learning strategy: a plug-in that joins the training step through a few hooks.
 * Every hook is optional, so strategies compose (replay with EWC, LwF or A-GEM).
 */
export interface Strategy {
  readonly name: string;
  /**
   * False for strategies that train only at the end of each experience, from their memory (GDumb,
   * joint): stream batches then only feed `observe`. Such a strategy cannot be combined with others.
   */
  readonly trainsOnStream: boolean;
  /** Before the first batch of an experience. */
  beforeExperience?(ctx: StrategyContext): void | Promise<void>;
  /** Extends the batch before the step (replay draws from its memory here). */
  augment?(ctx: StrategyContext, batch: Batch, n: number): { batch: Batch; n: number };
  /** A term added to the loss inside the gradient tape (EWC, SI, LwF); `raw` are the model's raw outputs. */
  penalty?(ctx: StrategyContext, tb: TensorBatch, raw: tf.Tensor2D): tf.Scalar | null;
  /**
   * A loss term with its gradient in closed form (EWC's and SI's quadratics): the value joins the
   * loss and the gradients (in `model.params` order) are added to the tape's before any `project`,
   * which takes fewer ops than recording the term on the tape; runs inside `tf.tidy`.
   */
  penaltyGradients?(ctx: StrategyContext): { value: tf.Scalar; grads: tf.Tensor[] } | null;
  /** Rewrites the gradients before the update (A-GEM, GEM); runs inside `tf.tidy`. */
  project?(ctx: StrategyContext, grads: tf.Tensor[]): tf.Tensor[];
  /** After the optimizer update, with the gradients it applied (SI's path integral); inside `tf.tidy`. */
  afterUpdate?(ctx: StrategyContext, grads: readonly tf.Tensor[]): void;
  /** After each step, with the stream batch as it came (memories fill here). */
  observe?(ctx: StrategyContext, batch: Batch, n: number): void;
  /** After the last batch of an experience (EWC's Fisher, SI's importance, LwF's snapshot, GDumb's refit). */
  afterExperience?(ctx: StrategyContext): void | Promise<void>;
  /** The memories this strategy holds, for reports and bounds. */
  memoryReports?(): MemoryReport[];
  getState(): SavedState | Promise<SavedState>;
  setState(state: SavedState, ctx: StrategyContext): void;
  dispose(): void;
}

/** Makes a strategy from its options; `seed` keys its random choices. */
// biome-ignore lint/suspicious/noExplicitAny: each factory types its own options
export type StrategyFactory = (options: any, seed: number) => Strategy;
