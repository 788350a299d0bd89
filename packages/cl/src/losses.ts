import * as tf from '@tensorflow/tfjs-core';
import type { ModelTask } from './models/model.js';

/**
 * One loss value per sample `[n]`: softmax cross-entropy of logits `[n, C]` against int32 class
 * ids, or the mean squared error over each row for regression and reconstruction.
 */
export function perSampleLoss(task: ModelTask, out: tf.Tensor2D, y: tf.Tensor): tf.Tensor1D {
  if (task === 'classification') {
    const logp = tf.logSoftmax(out);
    const onehot = tf.oneHot(y as tf.Tensor1D, out.shape[1]);
    return tf.neg(tf.sum(tf.mul(logp, onehot), 1)) as tf.Tensor1D;
  }
  return tf.mean(tf.squaredDifference(out, y), 1) as tf.Tensor1D;
}

/**
 * The batch loss: `sum(weight_i * loss_i) / n`, Keras' `sum_over_batch_size` reduction, so a
 * sample of weight 2 counts as two samples and unweighted batches give the plain mean.
 */
export function reduceLoss(losses: tf.Tensor1D, weight: tf.Tensor1D | null): tf.Scalar {
  return weight ? tf.div(tf.sum(tf.mul(losses, weight)), losses.shape[0]) : tf.mean(losses);
}

/** Softmax cross-entropy between soft targets `[n, C]` and logits, per sample (LwF distillation). */
export function softCrossEntropy(targets: tf.Tensor2D, logits: tf.Tensor2D): tf.Tensor1D {
  return tf.neg(tf.sum(tf.mul(targets, tf.logSoftmax(logits)), 1)) as tf.Tensor1D;
}
