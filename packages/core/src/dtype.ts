/** Numeric element types, by their numpy names. */
export type Dtype =
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

/** The typed arrays that hold decoded values (float16 is widened to Float32Array: Node 20 has no Float16Array). */
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

/** A typed array constructor that views an existing buffer. */
export type TypedArrayConstructor = new (
  buffer: ArrayBufferLike,
  byteOffset?: number,
  length?: number,
) => TypedArray;

/** What a dtype is: its stored width, the array its values decode into, and its numpy type code. */
export interface DtypeInfo {
  /** Bytes per element as stored (float16 is 2 even though it decodes to Float32Array). */
  readonly bytes: number;
  /** The typed array that holds decoded values (Float32Array for float16). */
  readonly array: TypedArrayConstructor;
  /** numpy's type code without the byte-order character, e.g. `f4` (`'<f4'` in a `.npy` descr). */
  readonly npy: string;
}

/** Every numeric dtype, in numpy's order of kind then width. */
export const DTYPES: Readonly<Record<Dtype, DtypeInfo>> = {
  uint8: { bytes: 1, array: Uint8Array, npy: 'u1' },
  int8: { bytes: 1, array: Int8Array, npy: 'i1' },
  uint16: { bytes: 2, array: Uint16Array, npy: 'u2' },
  int16: { bytes: 2, array: Int16Array, npy: 'i2' },
  float16: { bytes: 2, array: Float32Array, npy: 'f2' },
  uint32: { bytes: 4, array: Uint32Array, npy: 'u4' },
  int32: { bytes: 4, array: Int32Array, npy: 'i4' },
  float32: { bytes: 4, array: Float32Array, npy: 'f4' },
  uint64: { bytes: 8, array: BigUint64Array, npy: 'u8' },
  int64: { bytes: 8, array: BigInt64Array, npy: 'i8' },
  float64: { bytes: 8, array: Float64Array, npy: 'f8' },
};

/** Whether `name` is one of the numeric dtypes of `DTYPES`. */
export function isDtype(name: string): name is Dtype {
  return Object.hasOwn(DTYPES, name);
}

/** IEEE half-precision bits -> number. */
export function float16ToFloat32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? Number.NaN : s * Number.POSITIVE_INFINITY;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
/** number -> IEEE half-precision bits, rounding to nearest even as numpy does. */
export function float32ToFloat16(x: number): number {
  f32[0] = x;
  const b = u32[0] ?? 0;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let m = mant >>> shift;
    if (rest > half || (rest === half && m & 1)) m++;
    return sign | m;
  }
  const rest = mant & 0x1fff;
  let m = mant >>> 13;
  if (rest > 0x1000 || (rest === 0x1000 && m & 1)) {
    m++;
    if (m === 0x400) {
      m = 0;
      e++;
      if (e >= 31) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | m;
}
