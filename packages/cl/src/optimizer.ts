import { StreamsError } from '@streams/core';
import * as tf from '@tensorflow/tfjs-core';
import type { Param } from './models/model.js';

/** The optimizer of a learner, as plain JSON (saved in checkpoints). */
export interface OptimizerConfig {
  name: 'sgd' | 'momentum' | 'adam';
  /** Learning rate. */
  lr: number;
  /** `momentum`: the momentum (default 0.9). */
  momentum?: number;
  /** `adam`: beta1, beta2, epsilon (defaults 0.9, 0.999, 1e-7 as in Keras). */
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

/**
 * A first-order optimizer with explicit, saveable state. It is written here rather than taken
 * from tfjs because tfjs' Adam restores its bias correction with `pow` instead of the running
 * product (so a restored run drifts in the last bits) and keys its slots by variable order.
 */
export class Optimizer {
  readonly config: Required<OptimizerConfig>;
  /** Updates applied so far. */
  step = 0;
  private slots: tf.Variable[][] = [];

  constructor(
    config: OptimizerConfig,
    private readonly params: readonly Param[],
  ) {
    if (!['sgd', 'momentum', 'adam'].includes(config?.name) || !(config.lr > 0)) {
      throw new StreamsError(
        'STREAMS_INVALID_CONFIG',
        `[streams/cl] bad optimizer ${JSON.stringify(config)}`,
        {
          fix: "use { name: 'sgd' | 'momentum' | 'adam', lr: <positive number> }",
        },
      );
    }
    this.config = {
      momentum: 0.9,
      beta1: 0.9,
      beta2: 0.999,
      epsilon: 1e-7,
      ...config,
    };
  }

  /** Applies one update from gradients given in `params` order. */
  apply(grads: readonly tf.Tensor[]): void {
    const c = this.config;
    this.step++;
    tf.tidy(() => {
      if (c.name === 'sgd') {
        this.params.forEach((p, i) => {
          p.variable.assign(tf.sub(p.variable, tf.mul(grads[i]!, c.lr)));
        });
        return;
      }
      this.ensureSlots(c.name === 'adam' ? 2 : 1);
      if (c.name === 'momentum') {
        this.params.forEach((p, i) => {
          const v = this.slots[i]![0]!;
          v.assign(tf.add(tf.mul(v, c.momentum), grads[i]!));
          p.variable.assign(tf.sub(p.variable, tf.mul(v, c.lr)));
        });
        return;
      }
      // Bias corrections in float64 from the step count: the same bits after a restore.
      const a = (c.lr * Math.sqrt(1 - c.beta2 ** this.step)) / (1 - c.beta1 ** this.step);
      this.params.forEach((p, i) => {
        const [m, v] = this.slots[i] as [tf.Variable, tf.Variable];
        const g = grads[i]!;
        m.assign(tf.add(tf.mul(m, c.beta1), tf.mul(g, 1 - c.beta1)));
        v.assign(tf.add(tf.mul(v, c.beta2), tf.mul(tf.square(g), 1 - c.beta2)));
        p.variable.assign(tf.sub(p.variable, tf.mul(tf.div(m, tf.add(tf.sqrt(v), c.epsilon)), a)));
      });
    });
  }

  /** Forgets the moments and the step count (GDumb retrains from scratch). */
  reset(): void {
    for (const s of this.slots.flat()) s.dispose();
    this.slots = [];
    this.step = 0;
  }

  /** The slot tensors' values, in param order (for checkpoints). */
  async getState(): Promise<{ step: number; slots: Float32Array[] }> {
    const slots = await Promise.all(
      this.slots.flat().map((s) => s.data() as Promise<Float32Array>),
    );
    return { step: this.step, slots };
  }

  /** Restores what {@link getState} returned. */
  setState(state: { step: number; slots: readonly Float32Array[] }): void {
    this.reset();
    this.step = state.step;
    if (state.slots.length === 0) return;
    const per = state.slots.length / this.params.length;
    this.slots = tf.tidy(() =>
      this.params.map((p, i) =>
        Array.from({ length: per }, (_, k) =>
          tf.variable(tf.tensor(state.slots[i * per + k]!, p.variable.shape), false),
        ),
      ),
    );
  }

  dispose(): void {
    this.reset();
  }

  private ensureSlots(count: number): void {
    if (this.slots.length > 0) return;
    this.slots = this.params.map((p) =>
      Array.from({ length: count }, () => tf.variable(tf.zerosLike(p.variable), false)),
    );
  }
}
