import { StreamsError } from '@streams/core';
import * as tf from '@tensorflow/tfjs-core';
import type { Model } from './models/model.js';

/** One batch of samples as row-major typed arrays. */
export interface Batch {
  /** Inputs `[batch, ...inputShape]`. */
  x: Float32Array;
  /** Class ids `[batch]` (Int32Array), or regression targets `[batch, outputs]` (Float32Array); autoencoders may omit it (target = x). */
  y?: Int32Array | Float32Array;
  /** Sample weights `[batch]` (from weighted streams); they scale each sample's loss. */
  weight?: Float32Array;
  /** Task ids `[batch]` (task-incremental learning, per-task evaluation). */
  task?: Int32Array;
}

/** Batches from an array, a generator or a stream adapter. */
export type BatchSource = Iterable<Batch> | AsyncIterable<Batch>;

/** A batch on the backend: inputs shaped for the model, targets, weights and task ids. */
export interface TensorBatch {
  n: number;
  x: tf.Tensor;
  /** int32 `[n]` class ids, or float32 `[n, outputSize]` targets. */
  y: tf.Tensor;
  weight: tf.Tensor1D | null;
  task: tf.Tensor1D | null;
}

/** The number of rows of `batch` for a model, after checking every field's length. */
export function batchSize(model: Model, batch: Batch, where = 'batch'): number {
  const sample = model.inputShape.reduce((a, b) => a * b, 1);
  if (!(batch?.x instanceof Float32Array)) {
    throw invalid(
      `${where}.x must be a Float32Array`,
      'convert inputs with Float32Array.from(...)',
    );
  }
  const n = batch.x.length / sample;
  if (!Number.isInteger(n) || n === 0) {
    throw invalid(
      `${where}.x has ${batch.x.length} values, not a positive multiple of the sample size ${sample} ([${model.inputShape}])`,
      'check the model inputShape against the data',
    );
  }
  const { y } = batch;
  if (model.task === 'classification') {
    if (!(y instanceof Int32Array) || y.length !== n) {
      throw invalid(
        `${where}.y must be an Int32Array of ${n} class ids`,
        'pass labels as Int32Array',
      );
    }
    const classes = model.outputSize;
    for (let i = 0; i < n; i++) {
      const c = y[i]!;
      if (c < 0 || c >= classes) {
        throw invalid(
          `${where}.y[${i}] = ${c} is outside [0, ${classes})`,
          `give the model ${c + 1} outputs or fix the label`,
        );
      }
    }
  } else if (y !== undefined || model.task === 'regression') {
    const want = n * model.outputSize;
    if (!(y instanceof Float32Array) || y.length !== want) {
      throw invalid(
        `${where}.y must be a Float32Array of ${want} targets ([${n}, ${model.outputSize}])`,
        'match the targets to the model outputs',
      );
    }
  }
  if (batch.weight !== undefined) {
    if (!(batch.weight instanceof Float32Array) || batch.weight.length !== n) {
      throw invalid(
        `${where}.weight must be a Float32Array of ${n} weights`,
        'give one weight per sample',
      );
    }
    for (let i = 0; i < n; i++) {
      const w = batch.weight[i]!;
      if (!(w >= 0) || !Number.isFinite(w))
        throw invalid(
          `${where}.weight[${i}] = ${w} is not a finite weight >= 0`,
          'fix the stream weights',
        );
    }
  }
  if (
    batch.task !== undefined &&
    (!(batch.task instanceof Int32Array) || batch.task.length !== n)
  ) {
    throw invalid(
      `${where}.task must be an Int32Array of ${n} task ids`,
      'give one task id per sample',
    );
  }
  return n;
}

function invalid(message: string, fix: string): StreamsError {
  return new StreamsError('STREAMS_INVALID_ARGUMENT', `[streams/cl] ${message}`, { fix });
}

/** Uploads a checked batch (call inside `tf.tidy`). */
export function toTensors(model: Model, batch: Batch, n: number): TensorBatch {
  const x = tf.tensor(batch.x, [n, ...model.inputShape]);
  let y: tf.Tensor;
  if (model.task === 'classification') y = tf.tensor1d(batch.y as Int32Array, 'int32');
  else y = tf.tensor2d((batch.y as Float32Array | undefined) ?? batch.x, [n, model.outputSize]);
  return {
    n,
    x,
    y,
    weight: batch.weight ? tf.tensor1d(batch.weight) : null,
    task: batch.task ? tf.tensor1d(batch.task, 'int32') : null,
  };
}

/** Joins batches of `sizes[i]` rows row-wise; a field missing in some batch is filled (weight 1, task 0). */
export function concatBatches(batches: readonly Batch[], sizes: readonly number[]): Batch {
  if (batches.length === 1) return batches[0]!;
  const out: Batch = { x: joinF32(batches.map((b) => b.x)) };
  if (batches.some((b) => b.y !== undefined)) {
    const ys = batches.map((b) => b.y ?? b.x);
    out.y =
      ys[0] instanceof Int32Array ? joinI32(ys as Int32Array[]) : joinF32(ys as Float32Array[]);
  }
  if (batches.some((b) => b.weight)) {
    out.weight = joinF32(batches.map((b, i) => b.weight ?? new Float32Array(sizes[i]!).fill(1)));
  }
  if (batches.some((b) => b.task)) {
    out.task = joinI32(batches.map((b, i) => b.task ?? new Int32Array(sizes[i]!)));
  }
  return out;
}

function join<A extends Float32Array | Int32Array>(parts: readonly A[], make: (n: number) => A): A {
  const out = make(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const joinF32 = (parts: readonly Float32Array[]) => join(parts, (n) => new Float32Array(n));
const joinI32 = (parts: readonly Int32Array[]) => join(parts, (n) => new Int32Array(n));

/** Rows `rows` of a batch of `n` rows, as a new batch. */
export function takeRows(batch: Batch, n: number, rows: ArrayLike<number>): Batch {
  const pick = <A extends Float32Array | Int32Array>(a: A, make: (len: number) => A): A => {
    const width = a.length / n;
    const out = make(rows.length * width);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      out.set(a.subarray(r * width, (r + 1) * width), i * width);
    }
    return out;
  };
  const f32 = (len: number) => new Float32Array(len);
  const i32 = (len: number) => new Int32Array(len);
  const out: Batch = { x: pick(batch.x, f32) };
  if (batch.y) out.y = batch.y instanceof Int32Array ? pick(batch.y, i32) : pick(batch.y, f32);
  if (batch.weight) out.weight = pick(batch.weight, f32);
  if (batch.task) out.task = pick(batch.task, i32);
  return out;
}
