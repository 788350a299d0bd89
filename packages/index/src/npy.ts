import { encodeNpy } from '@streams/core';
import { badValue, dtypeOfTyped, toNdArray, valuesBytes } from './columnValues.js';

/**
 * Whether a sample value is an array a WebDataset writer stores as `.npy`: a typed array other
 * than `Uint8Array` (which stays raw bytes), or `{ dtype, shape, data }` with typed-array `data`
 * (what an MDS `ndarray` column and a `.npy` member decode to).
 */
export function isNpyValue(value: unknown): boolean {
  if (value instanceof Uint8Array) return false;
  if (dtypeOfTyped(value) !== undefined) return true;
  return (
    !!value &&
    typeof value === 'object' &&
    'dtype' in value &&
    'shape' in value &&
    Array.isArray(value.shape) &&
    'data' in value &&
    ArrayBuffer.isView(value.data)
  );
}

/** The `.npy` file of an {@link isNpyValue} value; a shape that does not fit the data is refused. */
export function npyBytes(value: unknown, column: string): Uint8Array {
  const v = value as { dtype?: unknown; shape?: unknown; data?: unknown };
  // bool is a .npy dtype but not an MDS one: a decoded bool member goes back out as it came in.
  const arr =
    v.dtype === 'bool' && v.data instanceof Uint8Array && Array.isArray(v.shape)
      ? { dtype: 'bool' as const, shape: v.shape as number[], data: v.data }
      : toNdArray(value, undefined, column, 'npy');
  if (!arr.shape.every((d) => Number.isSafeInteger(d) && d >= 0))
    throw badValue(column, 'npy', `shape [${arr.shape}] is not a list of sizes`);
  const count = arr.shape.reduce((a, b) => a * b, 1);
  if (count !== arr.data.length)
    throw badValue(
      column,
      'npy',
      `shape [${arr.shape}] needs ${count} values, got ${arr.data.length}`,
    );
  const bytes = arr.dtype === 'bool' ? arr.data : valuesBytes(arr);
  return encodeNpy(arr.dtype, arr.shape, bytes);
}
