import type { Batch } from '@streams/cl';
import { StreamsError } from '@streams/core';

/** Which fields of a sample hold the input, the label and the sample weight. */
export interface BatchFields {
  input: string;
  label: string;
  /** Field of the sample weight (weighted streams), when any stream has one. */
  weight?: string;
  /** Stream name, for errors. */
  stream?: string;
}

type Numeric = ArrayLike<number>;

function inputOf(sample: Record<string, unknown>, f: BatchFields): Numeric {
  const v = sample[f.input];
  if (
    ArrayBuffer.isView(v) &&
    !(v instanceof DataView) &&
    !(v instanceof BigInt64Array) &&
    !(v instanceof BigUint64Array)
  )
    return v as unknown as Numeric;
  if (
    v !== null &&
    typeof v === 'object' &&
    'data' in v &&
    ArrayBuffer.isView((v as { data: unknown }).data)
  )
    return (v as { data: Numeric }).data; // MDS ndarray or a transform's tensor
  if (Array.isArray(v)) return v as Numeric;
  throw new StreamsError(
    'STREAMS_INVALID_CONFIG',
    `[streams/trainer] stream ${f.stream ?? '?'}: input field "${f.input}" is ${v === undefined ? 'missing' : `not a tensor (${typeof v})`}; fields: ${Object.keys(sample).join(', ')}`,
    {
      stream: f.stream,
      fix: "set the stream's input to the column (or transform output) holding the tensor",
    },
  );
}

/** A column value as a number when it is one (bigint and numeric strings included); else as is. */
function asNumber(v: unknown): unknown {
  return typeof v === 'bigint' ? Number(v) : typeof v === 'string' ? Number(v.trim()) : v;
}

function weightOf(sample: Record<string, unknown>, field: string, f: BatchFields): number {
  const v = sample[field];
  const n = asNumber(v);
  if (typeof n !== 'number' || !(n >= 0) || !Number.isFinite(n)) {
    throw new StreamsError(
      'STREAMS_INVALID_CONFIG',
      `[streams/trainer] stream ${f.stream ?? '?'}: sample weight is ${v === undefined ? 'missing' : `not a finite number >= 0 (${JSON.stringify(String(v))})`}`,
      {
        stream: f.stream,
        fix: "point the stream's sampleWeight at a column of weights >= 0, or give a number",
      },
    );
  }
  return n;
}

function labelOf(sample: Record<string, unknown>, f: BatchFields): number {
  const v = sample[f.label];
  const n = asNumber(v);
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
    throw new StreamsError(
      'STREAMS_INVALID_CONFIG',
      `[streams/trainer] stream ${f.stream ?? '?'}: label field "${f.label}" is ${v === undefined ? 'missing' : `not a class index (${JSON.stringify(String(v))})`}; fields: ${Object.keys(sample).join(', ')}`,
      { stream: f.stream, fix: "set the stream's label to a column of integer class labels" },
    );
  }
  return n;
}

/**
 * Packs samples into one typed-array batch: inputs copied into `[batch, inputSize]`, labels and
 * weights into `[batch]`; `task` (task-incremental heads) is the same for every sample of an experience.
 */
export function toBatch(
  samples: readonly Record<string, unknown>[],
  f: BatchFields,
  task?: number,
): Batch {
  const n = samples.length;
  const first = n > 0 ? inputOf(samples[0]!, f) : [];
  const size = first.length;
  const x = new Float32Array(n * size); // [batch, inputSize]
  const y = new Int32Array(n); // [batch]
  const weight = f.weight === undefined ? undefined : new Float32Array(n); // [batch]
  for (let i = 0; i < n; i++) {
    const s = samples[i]!;
    const v = i === 0 ? first : inputOf(s, f);
    if (v.length !== size) {
      throw new StreamsError(
        'STREAMS_INVALID_CONFIG',
        `[streams/trainer] stream ${f.stream ?? '?'}: inputs of different sizes in one batch (${size} and ${v.length})`,
        {
          stream: f.stream,
          fix: 'resize the inputs to one shape (transform preset image with a size)',
        },
      );
    }
    if (v instanceof Float32Array) x.set(v, i * size);
    else for (let k = 0; k < size; k++) x[i * size + k] = v[k]!;
    y[i] = labelOf(s, f);
    if (weight) weight[i] = weightOf(s, f.weight!, f);
  }
  return {
    x,
    y,
    ...(weight ? { weight } : {}),
    ...(task === undefined ? {} : { task: new Int32Array(n).fill(task) }),
  };
}
