// The tf.data adapter: a separate entry point (`@streams/multistream/tfdata`), so TensorFlow.js
// is loaded only by users who ask for it, and then lazily, on the first call.
import { StreamsError } from '@streams/core';
import type * as TfModule from '@tensorflow/tfjs';

/** The `@tensorflow/tfjs` module (or a compatible build such as tfjs-node's re-export). */
export type Tf = typeof TfModule;

/** A `tf.data.Dataset` of tensor containers. */
export type TfDataset = TfModule.data.Dataset<TfModule.TensorContainer>;

/** Turns one sample into what the model reads: a tensor, or an array or object of tensors. */
export type ToTensors<T> = (sample: T, tf: Tf) => TfModule.TensorContainer;

/** Options of {@link toTfDataset}. */
export interface TfDatasetOptions<T> {
  /** Sample -> tensors; default {@link defaultToTensors}. */
  map?: ToTensors<T>;
  /** A TensorFlow.js module to use instead of importing `@tensorflow/tfjs` (e.g. tfjs-node). */
  tf?: Tf;
}

/** Imports `@tensorflow/tfjs`, or fails with the install command. */
export async function loadTf(): Promise<Tf> {
  try {
    return (await import('@tensorflow/tfjs')) as Tf;
  } catch (cause) {
    throw new StreamsError(
      'STREAMS_DATASET_UNAVAILABLE',
      '[streams/multistream] the tf.data adapter needs @tensorflow/tfjs',
      {
        cause,
        fix: 'install it: npm i @tensorflow/tfjs (or pass { tf } from @tensorflow/tfjs-node)',
      },
    );
  }
}

/**
 * A `tf.data.Dataset` over any async iterable of samples, such as a `StreamingDataset`: every
 * iteration of the tf dataset (every `model.fitDataset` epoch) asks the source for a new iterator,
 * which for a StreamingDataset is the rest of its current epoch, then the next epoch.
 *
 * ```ts
 * const tfds = (await toTfDataset(ds, { map: (s, tf) => ({ xs: tf.tensor(s.image), ys: tf.oneHot(s.label, 10) }) })).batch(32);
 * await model.fitDataset(tfds, { epochs: 3 });
 * ```
 */
export async function toTfDataset<T>(
  source: AsyncIterable<T>,
  options: TfDatasetOptions<T> = {},
): Promise<TfDataset> {
  const tf = options.tf ?? (await loadTf());
  const map = options.map ?? (defaultToTensors as ToTensors<T>);
  return tf.data.generator(async function* () {
    for await (const sample of source) yield map(sample, tf);
  } as unknown as () => Iterator<TfModule.TensorContainer>);
}

/**
 * The default conversion of an MDS sample: numbers become scalars, typed arrays 1-D tensors,
 * `{ data, shape }` objects (MDS ndarrays) tensors of that shape, numeric arrays 1-D tensors;
 * other fields (strings, JSON) are left out.
 */
export function defaultToTensors(sample: unknown, tf: Tf): TfModule.TensorContainer {
  if (typeof sample !== 'object' || sample === null) {
    throw new StreamsError(
      'STREAMS_INVALID_ARGUMENT',
      `[streams/multistream] cannot make tensors of a ${typeof sample} sample`,
      {
        fix: 'pass map: (sample, tf) => tensors to toTfDataset',
      },
    );
  }
  const out: Record<string, TfModule.Tensor> = {};
  for (const [key, value] of Object.entries(sample)) {
    if (typeof value === 'number') out[key] = tf.scalar(value);
    else if (typeof value === 'bigint') out[key] = tf.scalar(Number(value), 'int32');
    else if (ArrayBuffer.isView(value) && !(value instanceof DataView))
      out[key] = tf.tensor(toTfArray(value));
    else if (Array.isArray(value) && value.every((v) => typeof v === 'number'))
      out[key] = tf.tensor1d(value);
    else if (isNdArray(value)) out[key] = tf.tensor(toTfArray(value.data), [...value.shape]);
  }
  return out;
}

type TfArray = Float32Array | Int32Array | Uint8Array;

function toTfArray(view: ArrayBufferView): TfArray {
  // TensorFlow.js stores float32, int32 and uint8: floats narrow to float32, integers to int32.
  if (view instanceof Float32Array || view instanceof Int32Array || view instanceof Uint8Array)
    return view;
  if (view instanceof BigInt64Array || view instanceof BigUint64Array)
    return Int32Array.from(view, Number);
  const values = view as unknown as ArrayLike<number>;
  return view.constructor.name.startsWith('Float')
    ? Float32Array.from(values)
    : Int32Array.from(values);
}

function isNdArray(v: unknown): v is { data: ArrayBufferView; shape: readonly number[] } {
  return (
    typeof v === 'object' &&
    v !== null &&
    'data' in v &&
    'shape' in v &&
    ArrayBuffer.isView((v as { data: unknown }).data) &&
    Array.isArray((v as { shape: unknown }).shape)
  );
}

/**
 * A `tf.data.Dataset` of `{ xs, ys }` over typed tensors such as a STREAMS dataset's
 * `getData({ format: 'tensors' })`: `xs` of `shape` (float32), `ys` an int32 scalar per sample.
 * `await tensorsToTfDataset(streams.getData({ format: 'tensors' }))`.
 */
export async function tensorsToTfDataset(
  data: { x: Float32Array; y: Int32Array; shape: readonly number[] },
  options: { tf?: Tf } = {},
): Promise<TfDataset> {
  const size = data.shape.reduce((a, b) => a * b, 1);
  const n = data.y.length;
  async function* samples() {
    for (let i = 0; i < n; i++) yield i;
  }
  return toTfDataset(
    { [Symbol.asyncIterator]: samples },
    {
      tf: options.tf,
      map: (i, tf) => ({
        xs: tf.tensor(data.x.subarray(i * size, (i + 1) * size), [...data.shape]),
        ys: tf.scalar(data.y[i]!, 'int32'),
      }),
    },
  );
}
