// Evaluation of a learner's model over batches: the mean loss (and accuracy for classifiers),
// overall and per task id, and optionally the confusion matrix. The learner's `evaluate` is this.
import * as tf from '@tensorflow/tfjs-core';
import { type BatchSource, batchSize, toTensors } from './batch.js';
import type { EvalMetrics, EvalResult } from './learnerTypes.js';
import { perSampleLoss } from './losses.js';
import type { Model } from './models/model.js';
import type { TaskRouting } from './taskRouting.js';

/** Loss (and accuracy for classifiers) of `model` over `batches`, overall and per task id. */
export async function evaluateModel(
  model: Model,
  routing: TaskRouting,
  batches: BatchSource,
  options: { confusion?: boolean } = {},
): Promise<EvalResult> {
  const total = { loss: 0, correct: 0, count: 0 };
  const perTask = new Map<number, typeof total>();
  const classes = model.outputSize;
  const confusion =
    options.confusion && model.task === 'classification'
      ? Array.from({ length: classes }, () => new Array<number>(classes).fill(0))
      : undefined;
  for await (const batch of batches) {
    const n = batchSize(model, batch, 'evaluate batch');
    routing.check(batch, n);
    const [losses, preds] = tf.tidy(() => {
      const tb = toTensors(model, batch, n);
      const out = routing.outputs(model.forward(tb.x), tb.task);
      const l = perSampleLoss(model.task, out, tb.y);
      return [l, model.task === 'classification' ? tf.argMax(out, 1) : l];
    });
    const l = (await losses.data()) as Float32Array;
    const pr = (await preds.data()) as Int32Array;
    tf.dispose([losses, preds]);
    for (let i = 0; i < n; i++) {
      const correct =
        model.task === 'classification' && pr[i] === (batch.y as Int32Array)[i] ? 1 : 0;
      const acc = batch.task
        ? (perTask.get(batch.task[i]!) ?? { loss: 0, correct: 0, count: 0 })
        : null;
      for (const a of acc ? [total, acc] : [total]) {
        a.loss += l[i]!;
        a.correct += correct;
        a.count++;
      }
      if (acc) perTask.set(batch.task![i]!, acc);
      if (confusion) confusion[(batch.y as Int32Array)[i]!]![pr[i]!]!++;
    }
  }
  const metrics = (a: typeof total): EvalMetrics => ({
    loss: a.count ? a.loss / a.count : Number.NaN,
    ...(model.task === 'classification'
      ? { accuracy: a.count ? a.correct / a.count : Number.NaN }
      : {}),
    count: a.count,
  });
  const result: EvalResult = {
    ...metrics(total),
    perTask: Object.fromEntries(
      [...perTask].sort((a, b) => a[0] - b[0]).map(([t, a]) => [t, metrics(a)]),
    ),
  };
  if (confusion) result.confusion = confusion;
  return result;
}
