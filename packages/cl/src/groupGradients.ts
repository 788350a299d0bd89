// Per-batch gradients of several batches at once (A-GEM layerwise, GEM): one forward and backward
// pass over a copy of the parameters per batch when the model supports grouped forwards, else one
// pass per batch. The learner's `StrategyContext.groupGradients` is this.
import * as tf from '@tensorflow/tfjs-core';
import { type Batch, concatBatches, takeRows, toTensors } from './batch.js';
import { perSampleLoss } from './losses.js';
import type { Model } from './models/model.js';
import type { TaskRouting } from './taskRouting.js';

/**
 * The gradients of each batch's weighted mean loss, stacked per parameter (`[k, ...shape]`);
 * `gradients` computes one batch's (the fallback for models without `forwardGroups`).
 */
export function groupGradients(
  model: Model,
  routing: TaskRouting,
  gradients: (batch: Batch, n: number) => tf.Tensor[],
  batches: readonly { batch: Batch; n: number }[],
): tf.Tensor[] {
  const k = batches.length;
  if (k === 1 || !model.forwardGroups) {
    const each = batches.map((b) => gradients(b.batch, b.n));
    return model.params.map((_, i) => tf.stack(each.map((g) => g[i]!)));
  }
  // Every batch padded to m rows by repeating its own rows; each row weighs w_i / n_k, so the
  // padding counts 0 and group k's loss is its own weighted mean.
  const m = Math.max(...batches.map((b) => b.n));
  const scale = new Float32Array(k * m); // [k * m]
  const rows = batches.map(({ batch, n }, j) => {
    for (let i = 0; i < n; i++) scale[j * m + i] = (batch.weight?.[i] ?? 1) / n;
    return n === m
      ? batch
      : takeRows(
          batch,
          n,
          Int32Array.from({ length: m }, (_, i) => i % n),
        );
  });
  const tb = toTensors(
    model,
    { ...concatBatches(rows, new Array(k).fill(m)), weight: scale },
    k * m,
  );
  const tiled = model.params.map((p) =>
    tf.tile(tf.expandDims(p.variable, 0), [k, ...p.variable.shape.map(() => 1)]),
  ); // each [k, ...shape]
  return tf.grads((...values: tf.Tensor[]) => {
    const raw = model.forwardGroups!(tb.x, k, values);
    const losses = perSampleLoss(model.task, routing.outputs(raw, tb.task), tb.y);
    return tf.sum(tf.mul(losses, tb.weight!));
  })(tiled);
}
