// The JS values of MDS columns: the checks on what a column is given (with the error for a value
// its encoding refuses) and the conversions between typed arrays or `{ dtype, shape, data }`
// ndarrays and their little-endian bytes. The column coders (mdsEncodings.ts) and the `.npy`
// writer of WebDataset samples (npy.ts) both use them.
import {
  DTYPES,
  type Dtype,
  float16ToFloat32,
  float32ToFloat16,
  isDtype,
  StreamsError,
  type TypedArray,
} from '@streams/core';

/** A STREAMS_INVALID_ARGUMENT for a value its column encoding does not accept. */
export function badValue(column: string, encoding: string, why: string): StreamsError {
  return new StreamsError(
    'STREAMS_INVALID_ARGUMENT',
    `[streams/index] column "${column}" (${encoding}): ${why}`,
    { fix: `give column "${column}" a value its encoding "${encoding}" accepts` },
  );
}

/** Narrows a 64-bit integer to a number when it is exactly representable. */
export function toIntValue(v: bigint): number | bigint {
  return v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v;
}

/** A column's integer value as a bigint (numbers must be whole; booleans are 0 and 1). */
export function toBigInt(value: unknown, column: string, encoding: string): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  if (typeof value === 'boolean') return value ? 1n : 0n;
  throw badValue(column, encoding, `expected an integer, got ${describe(value)}`);
}

/** What a refused value is, for messages: `null`, `Uint8Array`, its class or its type. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value instanceof Uint8Array) return 'Uint8Array';
  return typeof value === 'object' ? (value.constructor?.name ?? 'object') : typeof value;
}

/** A `bytes`/image column's value as bytes: any typed array or ArrayBuffer, or `{ bytes }`. */
export function bytesOf(value: unknown, column: string, encoding: string): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value))
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value && typeof value === 'object' && 'bytes' in value && value.bytes instanceof Uint8Array)
    return value.bytes;
  throw badValue(column, encoding, `expected bytes (Uint8Array), got ${describe(value)}`);
}

/** The typed array of `count` values of `dtype` over `raw` (float16 widened to Float32Array). */
export function makeTyped(dtype: Dtype, raw: ArrayBuffer, count: number): TypedArray {
  if (dtype === 'float16') {
    const h = new Uint16Array(raw);
    const out = new Float32Array(count); // widened: JS on Node 20 has no Float16Array
    for (let k = 0; k < count; k++) out[k] = float16ToFloat32(h[k] ?? 0);
    return out;
  }
  return new DTYPES[dtype].array(raw);
}

/** The dtype a typed array holds, or undefined for anything else. */
export function dtypeOfTyped(data: unknown): Dtype | undefined {
  if (data instanceof Uint8Array) return 'uint8';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Uint16Array) return 'uint16';
  if (data instanceof Int16Array) return 'int16';
  if (data instanceof Uint32Array) return 'uint32';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof BigUint64Array) return 'uint64';
  if (data instanceof BigInt64Array) return 'int64';
  return undefined;
}

/** `{ dtype, shape, data }` of an ndarray value or a typed array (shape `[length]`). */
export function toNdArray(
  value: unknown,
  fixedDtype: Dtype | undefined,
  column: string,
  encoding: string,
): { dtype: Dtype; shape: number[]; data: ArrayLike<number | bigint> } {
  if (value && typeof value === 'object' && 'data' in value && 'shape' in value) {
    const v = value as { dtype?: string; shape: number[]; data: ArrayLike<number | bigint> };
    // MDS (MosaicML's NDArray) has no bool dtype: a bool array (from `.npy`: bytes of 0 and 1)
    // is stored as uint8, as MosaicML users store masks.
    const named = v.dtype === 'bool' && v.data instanceof Uint8Array ? 'uint8' : v.dtype;
    const dtype = (named ?? dtypeOfTyped(v.data) ?? fixedDtype) as Dtype | undefined;
    if (!dtype || !isDtype(dtype))
      throw badValue(column, encoding, `unsupported dtype ${String(v.dtype)}`);
    return { dtype, shape: [...v.shape], data: v.data };
  }
  const dtype = dtypeOfTyped(value) ?? (Array.isArray(value) ? fixedDtype : undefined);
  if (dtype && (ArrayBuffer.isView(value) || Array.isArray(value))) {
    const data = value as ArrayLike<number | bigint>;
    return { dtype, shape: [data.length], data };
  }
  throw badValue(
    column,
    encoding,
    `expected {dtype, shape, data} or a typed array, got ${describe(value)}`,
  );
}

/** The values of an ndarray as little-endian bytes in C order (float16 as halves). */
export function valuesBytes(arr: {
  dtype: Dtype;
  shape: number[];
  data: ArrayLike<number | bigint>;
}): Uint8Array {
  const n = arr.data.length;
  const size = DTYPES[arr.dtype].bytes;
  if (dtypeOfTyped(arr.data) === arr.dtype) {
    const t = arr.data as unknown as TypedArray;
    return new Uint8Array(t.buffer, t.byteOffset, t.byteLength);
  }
  const out = new Uint8Array(n * size);
  const dv = new DataView(out.buffer);
  for (let k = 0; k < n; k++) {
    const x = arr.data[k] ?? 0;
    const o = k * size;
    switch (arr.dtype) {
      case 'uint8':
        dv.setUint8(o, Number(x));
        break;
      case 'int8':
        dv.setInt8(o, Number(x));
        break;
      case 'uint16':
        dv.setUint16(o, Number(x), true);
        break;
      case 'int16':
        dv.setInt16(o, Number(x), true);
        break;
      case 'float16':
        dv.setUint16(o, float32ToFloat16(Number(x)), true);
        break;
      case 'uint32':
        dv.setUint32(o, Number(x), true);
        break;
      case 'int32':
        dv.setInt32(o, Number(x), true);
        break;
      case 'float32':
        dv.setFloat32(o, Number(x), true);
        break;
      case 'uint64':
        dv.setBigUint64(o, BigInt(x), true);
        break;
      case 'int64':
        dv.setBigInt64(o, BigInt(x), true);
        break;
      case 'float64':
        dv.setFloat64(o, Number(x), true);
        break;
    }
  }
  return out;
}
