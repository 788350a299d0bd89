import { DTYPES, type Dtype, type TypedArray } from '@streams/core';

/** Element types of the tensors this package produces: the numeric dtypes of `@streams/core` and bool. */
export type DType = 'bool' | Dtype;

/** The typed array that holds each dtype. float16 is widened to Float32Array (there is no Float16Array in Node 20). */
export type { TypedArray };

/** A dense C-order (row-major) tensor: `data.length === shape.reduce((a, b) => a * b, 1)`. */
export interface Tensor<A extends TypedArray = TypedArray> {
  data: A;
  shape: number[];
  dtype: DType;
}

/** Bytes per element of each dtype as stored on disk (float16 is 2 even though it decodes to Float32Array). */
export const DTYPE_BYTES: Record<DType, number> = {
  bool: 1,
  ...(Object.fromEntries(
    Object.entries(DTYPES).map(([name, info]) => [name, info.bytes]),
  ) as Record<Dtype, number>),
};

/** The number of elements of a shape (1 for a scalar `[]`). */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
