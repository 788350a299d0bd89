import type * as tf from '@tensorflow/tfjs-core';

/** What a model's output means, which picks the loss and what `evaluate` reports. */
export type ModelTask = 'classification' | 'regression' | 'reconstruction';

/** The JSON description every model is made from (and re-made from when a checkpoint loads). */
export interface ModelSpecBase {
  /** The registered model family: `mlp`, `cnn`, `mlpAutoencoder`, `conv2dAutoencoder`, `conv3dAutoencoder`, or your own. */
  kind: string;
}

/** One trainable tensor of a model; `layer` groups a layer's weight and bias (layer-wise A-GEM). */
export interface Param {
  readonly name: string;
  readonly layer: string;
  readonly variable: tf.Variable;
}

/** Options of one forward pass. */
export interface ApplyOptions {
  /** Training mode turns dropout on. */
  training?: boolean;
  /** Dropout seed for this pass (the learner derives one per step, so runs repeat exactly). */
  seed?: number;
}

/**
 * A functional model: its parameters are an explicit list, so strategies can run it with other
 * parameter values (LwF's frozen copy) and per-layer gradient groups stay visible.
 */
export interface Model {
  readonly spec: ModelSpecBase;
  readonly task: ModelTask;
  /** The shape of one input sample, e.g. `[784]` or `[28, 28, 1]`. */
  readonly inputShape: readonly number[];
  /** Outputs per head: classes for classifiers, the target or input size otherwise. */
  readonly outputSize: number;
  /** Output heads (task-incremental multi-head models have one per task). */
  readonly heads: number;
  readonly params: readonly Param[];
  /** Raw outputs `[batch, heads * outputSize]` (classifiers: logits) for `values` (defaults to the variables). */
  forward(x: tf.Tensor, options?: ApplyOptions, values?: readonly tf.Tensor[]): tf.Tensor2D;
  /**
   * Optional: raw outputs `[groups * m, heads * outputSize]` where each group of `m` rows of `x`
   * runs with its own copy of the params (`values[i]` `[groups, ...params[i].shape]`), in one pass.
   * Strategies take the gradients of several losses at once with it (GEM's past experiences).
   */
  forwardGroups?(
    x: tf.Tensor,
    groups: number,
    values: readonly tf.Tensor[],
    options?: ApplyOptions,
  ): tf.Tensor2D;
  /** Draws fresh initial weights (xavier), deterministic for `seed`. */
  init(seed: number): void;
  /** Autoencoders: the code of `x`. */
  encode?(x: tf.Tensor): tf.Tensor;
  /** Autoencoders: the reconstruction of a code, shaped like the input batch. */
  decode?(z: tf.Tensor): tf.Tensor;
  dispose(): void;
}
