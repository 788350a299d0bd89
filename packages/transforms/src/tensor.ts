/** Element types of the tensors this package produces. */
export type DType =
  | 'bool'
  | 'uint8'
  | 'int8'
  | 'uint16'
  | 'int16'
  | 'float16'
  | 'uint32'
  | 'int32'
  | 'float32'
  | 'uint64'
  | 'int64'
  | 'float64';

/** The typed array that holds each dtype. float16 is widened to Float32Array (there is no Float16Array in Node 20). */
export type TypedArray =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array
  | BigUint64Array
  | BigInt64Array;

/** A dense C-order (row-major) tensor: `data.length === shape.reduce((a, b) => a * b, 1)`. */
export interface Tensor<A extends TypedArray = TypedArray> {
  data: A;
  shape: number[];
  dtype: DType;
}

/** Bytes per element of each dtype as stored on disk (float16 is 2 even though it decodes to Float32Array). */
export const DTYPE_BYTES: Record<DType, number> = {
  bool: 1,
  uint8: 1,
  int8: 1,
  uint16: 2,
  int16: 2,
  float16: 2,
  uint32: 4,
  int32: 4,
  float32: 4,
  uint64: 8,
  int64: 8,
  float64: 8,
};

/** The number of elements of a shape (1 for a scalar `[]`). */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
