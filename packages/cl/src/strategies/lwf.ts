import * as tf from '@tensorflow/tfjs-core';
import { reduceLoss } from '../losses.js';
import type { Strategy } from '../strategy.js';
import { numberOption, readTensors, snapshot, variablesFrom } from './util.js';

/** Options of learning without forgetting. */
export interface LwfOptions {
  /** Weight of the distillation term (default 1). */
  alpha?: number;
  /** Softmax temperature of the distillation (default 2). */
  temperature?: number;
}

/**
 * Learning without forgetting (Li & Hoiem, 2017): the model of the previous experience is frozen
 * and its softened outputs on the current inputs become targets, `alpha * T^2 * KL(old || new)`
 * over the old output units: the classes seen before (single head) or each old task's head
 * (multi-head). Regression and autoencoder models distill with the squared error instead.
 */
export function lwf(options: LwfOptions = {}): Strategy {
  const alpha = numberOption(options.alpha, 1, 'lwf.alpha');
  const temperature = numberOption(options.temperature, 2, 'lwf.temperature', 1e-6);
  let frozen: tf.Variable[] | null = null;
  let oldClasses: number[] = [];
  let oldHeads: number[] = [];

  const kl = (oldLogits: tf.Tensor2D, newLogits: tf.Tensor2D): tf.Tensor1D => {
    const q = tf.softmax(tf.div(oldLogits, temperature));
    const logq = tf.logSoftmax(tf.div(oldLogits, temperature));
    const logp = tf.logSoftmax(tf.div(newLogits, temperature));
    return tf.sum(tf.mul(q, tf.sub(logq, logp)), 1) as tf.Tensor1D;
  };

  return {
    name: 'lwf',
    trainsOnStream: true,
    penalty(ctx, tb, raw) {
      if (!frozen) return null;
      const model = ctx.model;
      const old = model.forward(tb.x, {}, frozen);
      let perSample: tf.Tensor1D;
      if (model.task !== 'classification') {
        perSample = tf.mean(tf.squaredDifference(raw, old), 1) as tf.Tensor1D;
      } else if (model.heads > 1) {
        const c = model.outputSize;
        const terms = oldHeads.map((h) =>
          kl(tf.slice(old, [0, h * c], [-1, c]), tf.slice(raw, [0, h * c], [-1, c])),
        );
        if (terms.length === 0) return null;
        perSample = tf.addN(terms) as tf.Tensor1D;
      } else {
        if (oldClasses.length === 0) return null;
        const idx = tf.tensor1d(oldClasses, 'int32');
        perSample = kl(tf.gather(old, idx, 1), tf.gather(raw, idx, 1));
      }
      const scale = model.task === 'classification' ? alpha * temperature * temperature : alpha;
      return tf.mul(reduceLoss(perSample, tb.weight), scale) as tf.Scalar;
    },
    afterExperience(ctx) {
      tf.dispose(frozen ?? []);
      frozen = snapshot(ctx.model.params);
      oldClasses = [...ctx.seenClasses];
      oldHeads = [...ctx.seenTasks].filter((t) => t < ctx.model.heads);
    },
    async getState() {
      const arrays = {};
      if (frozen) await readTensors(frozen, 'frozen.', arrays);
      return { meta: { oldClasses, oldHeads }, arrays };
    },
    setState(state, ctx) {
      tf.dispose(frozen ?? []);
      const meta = state.meta as { oldClasses: number[]; oldHeads: number[] };
      oldClasses = meta.oldClasses;
      oldHeads = meta.oldHeads;
      frozen = variablesFrom(state.arrays, 'frozen.', ctx.model.params);
    },
    dispose() {
      tf.dispose(frozen ?? []);
      frozen = null;
    },
  };
}
