import { StreamsError } from '@streams/core';
import * as tf from '@tensorflow/tfjs-core';
import type { Batch } from './batch.js';
import type { Model } from './models/model.js';
import type { LearnerMode } from './strategy.js';

/**
 * Task-incremental routing: task ids pick the head of a multi-head model, or mask the logits of
 * a single-head model to the task's classes. Class-incremental learning passes outputs through.
 */
export class TaskRouting {
  private readonly maskTable: Float32Array | null;

  constructor(
    private readonly model: Model,
    private readonly mode: LearnerMode,
    private readonly taskClasses: number[][] | undefined,
  ) {
    this.maskTable = this.buildMask();
  }

  /** Applies the task's head or class mask to raw outputs `[n, heads * outputSize]`. */
  outputs(raw: tf.Tensor2D, task: tf.Tensor1D | null): tf.Tensor2D {
    const m = this.model;
    if (this.mode !== 'task-incremental' || !task) return raw;
    if (m.heads > 1) {
      const n = raw.shape[0];
      const r3 = tf.reshape(raw, [n, m.heads, m.outputSize]);
      const pick = tf.reshape(tf.oneHot(task, m.heads), [n, m.heads, 1]);
      return tf.sum(tf.mul(r3, pick), 1) as tf.Tensor2D;
    }
    if (this.maskTable) {
      const tasks = this.taskClasses!.length;
      return tf.add(
        raw,
        tf.gather(tf.tensor2d(this.maskTable, [tasks, m.outputSize]), task),
      ) as tf.Tensor2D;
    }
    return raw;
  }

  private buildMask(): Float32Array | null {
    const tc = this.taskClasses;
    if (this.mode !== 'task-incremental') return null;
    if (this.model.heads > 1) return null;
    if (!tc || this.model.task !== 'classification') {
      throw new StreamsError(
        'STREAMS_INVALID_CONFIG',
        '[streams/cl] task-incremental mode needs a multi-head model or taskClasses',
        {
          fix: 'set heads in the model spec, or taskClasses: [[0, 1], [2, 3], ...]',
        },
      );
    }
    const c = this.model.outputSize;
    // Masked logits: -1e9 where a class is not part of the row's task (softmax gives it 0).
    const mask = new Float32Array(tc.length * c).fill(-1e9); // [tasks, classes]
    tc.forEach((classes, t) => {
      for (const k of classes) {
        if (!Number.isInteger(k) || k < 0 || k >= c) {
          throw new StreamsError(
            'STREAMS_INVALID_CONFIG',
            `[streams/cl] taskClasses[${t}] names class ${k}, outside [0, ${c})`,
          );
        }
        mask[t * c + k] = 0;
      }
    });
    return mask;
  }

  /** Throws unless every row of a task-incremental batch has a task id the model can route. */
  check(batch: Batch, n: number): void {
    if (this.mode !== 'task-incremental') return;
    if (!batch.task) {
      throw new StreamsError(
        'STREAMS_INVALID_ARGUMENT',
        '[streams/cl] task-incremental batches need task ids (batch.task)',
        {
          fix: "give every batch an Int32Array task, or use mode 'class-incremental'",
        },
      );
    }
    const limit = this.model.heads > 1 ? this.model.heads : (this.taskClasses?.length ?? 0);
    for (let i = 0; i < n; i++) {
      const t = batch.task[i]!;
      if (t < 0 || t >= limit) {
        throw new StreamsError(
          'STREAMS_INVALID_ARGUMENT',
          `[streams/cl] task id ${t} (row ${i}) has no ${this.model.heads > 1 ? 'head' : 'taskClasses entry'}; the learner knows ${limit} tasks`,
          {
            fix: 'raise heads in the model spec or extend taskClasses',
          },
        );
      }
    }
  }
}
