// MDS column encodings, byte-compatible with MosaicML `streaming`: the names it defines, the
// types of decoded values, and the coder of each encoding (scalars, strings and numbers as text,
// JSON, images, ndarrays with their dtype and shape header). The checks and byte conversions of
// the values themselves are in columnValues.ts.
import {
  DTYPES,
  type Dtype,
  float16ToFloat32,
  float32ToFloat16,
  isDtype,
  StreamsError,
  type TypedArray,
} from '@streams/core';
import {
  badValue,
  bytesOf,
  describe,
  makeTyped,
  toBigInt,
  toIntValue,
  toNdArray,
  valuesBytes,
} from './columnValues.js';
import { pyFloatRepr, pyJsonDumps } from './pyJson.js';

/** Element types of MDS ndarrays and scalar columns (the numeric dtypes of `@streams/core`). */
export type MdsDtype = Dtype;

export type { TypedArray };

/** A decoded `ndarray` column: row-major `data` (float16 is widened to Float32Array). */
export interface NdArray {
  dtype: MdsDtype;
  shape: number[];
  data: TypedArray;
}

/** A `jpeg`/`png` column: the encoded file bytes, to decode with `@streams/transforms`. */
export interface EncodedImage {
  format: 'jpeg' | 'png';
  bytes: Uint8Array;
}

/** A `pil` column: raw pixels as PIL's `Image.tobytes()` lays them out. */
export interface RawImage {
  format: 'pil';
  mode: string;
  width: number;
  height: number;
  bytes: Uint8Array;
}

/** Turns a decoded column value into what the caller wants (e.g. decode a JPEG into pixels). */
export type DecodeHook = (value: unknown, column: string) => unknown;

/** Encodes and decodes one MDS column. */
export interface MdsCoder {
  /** The encoding string as written in index.json, e.g. `ndarray:float32:28,28`. */
  readonly encoding: string;
  /** Fixed encoded size in bytes, or null when variable (then a uint32 size precedes the data). */
  readonly size: number | null;
  encode(value: unknown): Uint8Array;
  /** Decodes `len` bytes of `buf` at `off`; `dv` views the same memory as `buf`. */
  decode(buf: Uint8Array, off: number, len: number, dv: DataView): unknown;
}

const DTYPE_CODES: Record<MdsDtype, number> = {
  uint8: 8,
  int8: 9,
  uint16: 16,
  int16: 17,
  float16: 18,
  uint32: 32,
  int32: 33,
  float32: 34,
  uint64: 64,
  int64: 65,
  float64: 66,
};
const CODE_DTYPES = new Map<number, MdsDtype>(
  Object.entries(DTYPE_CODES).map(([k, v]) => [v, k as MdsDtype]),
);

/** Every encoding name MosaicML defines; all but `pkl` are supported here. */
export const MDS_ENCODINGS = [
  'bytes',
  'str',
  'int',
  'ndarray',
  'uint8',
  'uint16',
  'uint32',
  'uint64',
  'int8',
  'int16',
  'int32',
  'int64',
  'float16',
  'float32',
  'float64',
  'str_int',
  'str_float',
  'str_decimal',
  'pil',
  'jpeg',
  'png',
  'pkl',
  'json',
] as const;

const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf8enc = new TextEncoder();

/** Half-precision bits -> number (`float16ToFloat32` of `@streams/core`). */
export const halfToFloat: (h: number) => number = float16ToFloat32;

/** number -> half-precision bits, rounding to nearest even as numpy does (`float32ToFloat16` of `@streams/core`). */
export const floatToHalf: (x: number) => number = float32ToFloat16;

function scalarCoder(encoding: MdsDtype, column: string): MdsCoder {
  const size = DTYPES[encoding].bytes;
  const enc = (write: (dv: DataView, value: unknown) => void) => (value: unknown) => {
    const out = new Uint8Array(size);
    write(new DataView(out.buffer), value);
    return out;
  };
  const int = (bits: number, signed: boolean) => {
    const min = signed ? -(2n ** BigInt(bits - 1)) : 0n;
    const max = signed ? 2n ** BigInt(bits - 1) - 1n : 2n ** BigInt(bits) - 1n;
    return (value: unknown) => {
      const v = toBigInt(value, column, encoding);
      if (v < min || v > max) throw badValue(column, encoding, `${v} is out of range`);
      return v;
    };
  };
  const num = (value: unknown): number => {
    if (typeof value === 'number') return value;
    if (typeof value === 'bigint') return Number(value);
    if (typeof value === 'boolean') return value ? 1 : 0;
    throw badValue(column, encoding, `expected a number, got ${describe(value)}`);
  };
  switch (encoding) {
    case 'uint8': {
      const c = int(8, false);
      return {
        encoding,
        size,
        encode: enc((dv, v) => dv.setUint8(0, Number(c(v)))),
        decode: (_b, o, _l, dv) => dv.getUint8(o),
      };
    }
    case 'int8': {
      const c = int(8, true);
      return {
        encoding,
        size,
        encode: enc((dv, v) => dv.setInt8(0, Number(c(v)))),
        decode: (_b, o, _l, dv) => dv.getInt8(o),
      };
    }
    case 'uint16': {
      const c = int(16, false);
      return {
        encoding,
        size,
        encode: enc((dv, v) => dv.setUint16(0, Number(c(v)), true)),
        decode: (_b, o, _l, dv) => dv.getUint16(o, true),
      };
    }
    case 'int16': {
      const c = int(16, true);
      return {
        encoding,
        size,
        encode: enc((dv, v) => dv.setInt16(0, Number(c(v)), true)),
        decode: (_b, o, _l, dv) => dv.getInt16(o, true),
      };
    }
    case 'uint32': {
      const c = int(32, false);
      return {
        encoding,
        size,
        encode: enc((dv, v) => dv.setUint32(0, Number(c(v)), true)),
        decode: (_b, o, _l, dv) => dv.getUint32(o, true),
      };
    }
    case 'int32': {
      const c = int(32, true);
      return {
        encoding,
        size,
        encode: enc((dv, v) => dv.setInt32(0, Number(c(v)), true)),
        decode: (_b, o, _l, dv) => dv.getInt32(o, true),
      };
    }
    case 'uint64': {
      const c = int(64, false);
      return {
        encoding,
        size,
        encode: enc((dv, v) => dv.setBigUint64(0, c(v), true)),
        decode: (_b, o, _l, dv) => toIntValue(dv.getBigUint64(o, true)),
      };
    }
    case 'int64': {
      const c = int(64, true);
      return {
        encoding,
        size,
        encode: enc((dv, v) => dv.setBigInt64(0, c(v), true)),
        decode: (_b, o, _l, dv) => toIntValue(dv.getBigInt64(o, true)),
      };
    }
    case 'float16':
      return {
        encoding,
        size,
        encode: enc((dv, v) => dv.setUint16(0, floatToHalf(num(v)), true)),
        decode: (_b, o, _l, dv) => halfToFloat(dv.getUint16(o, true)),
      };
    case 'float32':
      return {
        encoding,
        size,
        encode: enc((dv, v) => dv.setFloat32(0, num(v), true)),
        decode: (_b, o, _l, dv) => dv.getFloat32(o, true),
      };
    case 'float64':
      return {
        encoding,
        size,
        encode: enc((dv, v) => dv.setFloat64(0, num(v), true)),
        decode: (_b, o, _l, dv) => dv.getFloat64(o, true),
      };
  }
}

function ndarrayCoder(encoding: string, args: string, column: string): MdsCoder {
  const parts = args === '' ? [] : args.split(':');
  if (parts.length > 2) throw unsupported(encoding, column);
  let fixedDtype: MdsDtype | undefined;
  let fixedShape: number[] | undefined;
  if (parts[0] !== undefined) {
    if (!isDtype(parts[0])) throw unsupported(encoding, column);
    fixedDtype = parts[0];
  }
  if (parts[1] !== undefined) {
    fixedShape = parts[1].split(',').map(Number);
    if (fixedShape.some((d) => !Number.isInteger(d) || d < 1)) throw unsupported(encoding, column);
  }
  const size =
    fixedDtype && fixedShape
      ? fixedShape.reduce((a, b) => a * b, 1) * DTYPES[fixedDtype].bytes
      : null;

  const corrupt = (why: string) =>
    new StreamsError(
      'STREAMS_SHARD_CORRUPT',
      `[streams/index] column "${column}" (${encoding}): ${why}`,
      { fix: 'the shard is damaged or was not written by an MDS writer; rewrite it' },
    );

  return {
    encoding,
    size,
    encode(value: unknown): Uint8Array {
      const arr = toNdArray(value, fixedDtype, column, encoding);
      if (fixedDtype && arr.dtype !== fixedDtype)
        throw badValue(column, encoding, `wrong dtype: expected ${fixedDtype}, got ${arr.dtype}`);
      const count = arr.shape.reduce((a, b) => a * b, 1);
      if (arr.shape.length === 0)
        throw badValue(column, encoding, 'scalars need a scalar encoding');
      if (count === 0 || arr.shape.some((d) => d <= 0))
        throw badValue(column, encoding, 'all dimensions must be greater than zero');
      if (count !== arr.data.length)
        throw badValue(
          column,
          encoding,
          `shape [${arr.shape}] needs ${count} values, got ${arr.data.length}`,
        );
      if (fixedShape && arr.shape.join(',') !== fixedShape.join(','))
        throw badValue(
          column,
          encoding,
          `wrong shape: expected [${fixedShape}], got [${arr.shape}]`,
        );
      const head: number[] = [];
      if (!fixedDtype) head.push(DTYPE_CODES[arr.dtype]);
      let shapeBytes = new Uint8Array(0);
      if (!fixedShape) {
        if (arr.shape.length >= 64) throw badValue(column, encoding, 'more than 63 axes');
        const max = Math.max(...arr.shape);
        const sdt = max < 256 ? 0 : max < 65536 ? 1 : max < 2 ** 32 ? 2 : 3;
        head.push((arr.shape.length << 2) | sdt);
        const w = 1 << sdt;
        shapeBytes = new Uint8Array(arr.shape.length * w);
        const dv = new DataView(shapeBytes.buffer);
        arr.shape.forEach((d, i) => {
          if (w === 1) dv.setUint8(i, d);
          else if (w === 2) dv.setUint16(i * 2, d, true);
          else if (w === 4) dv.setUint32(i * 4, d, true);
          else dv.setBigUint64(i * 8, BigInt(d), true);
        });
      }
      const values = valuesBytes(arr);
      const out = new Uint8Array(head.length + shapeBytes.length + values.length);
      out.set(head, 0);
      out.set(shapeBytes, head.length);
      out.set(values, head.length + shapeBytes.length);
      return out;
    },
    decode(buf, off, len, dv): NdArray {
      let i = off;
      const end = off + len;
      let dtype = fixedDtype;
      if (!dtype) {
        if (i >= end) throw corrupt('missing dtype byte');
        dtype = CODE_DTYPES.get(buf[i++] ?? -1);
        if (!dtype) throw corrupt(`unknown dtype code ${buf[i - 1]}`);
      }
      let shape = fixedShape;
      if (!shape) {
        if (i >= end) throw corrupt('missing shape byte');
        const byte = buf[i++] ?? 0;
        const ndim = byte >> 2;
        const w = 1 << (byte & 3);
        if (i + ndim * w > end) throw corrupt('shape runs past the sample');
        shape = [];
        for (let k = 0; k < ndim; k++, i += w) {
          shape.push(
            w === 1
              ? dv.getUint8(i)
              : w === 2
                ? dv.getUint16(i, true)
                : w === 4
                  ? dv.getUint32(i, true)
                  : Number(dv.getBigUint64(i, true)),
          );
        }
      }
      const count = shape.reduce((a, b) => a * b, 1);
      const nbytes = count * DTYPES[dtype].bytes;
      if (nbytes !== end - i)
        throw corrupt(
          `shape [${shape}] of ${dtype} needs ${nbytes} bytes, the sample has ${end - i}`,
        );
      // Copy: the result must not pin the whole shard buffer, and typed arrays need alignment.
      const raw = buf.slice(i, end).buffer;
      return { dtype, shape, data: makeTyped(dtype, raw, count) };
    },
  };
}

function unsupported(encoding: string, column: string): StreamsError {
  if (encoding === 'pkl' || encoding.startsWith('pkl:')) {
    return new StreamsError(
      'STREAMS_UNSUPPORTED_ENCODING',
      `[streams/index] column "${column}" uses the MDS encoding "pkl" (Python pickle), which cannot be read outside Python`,
      {
        fix: `rewrite column "${column}" with a portable encoding (json, ndarray, bytes) or leave it out with the "columns" option`,
      },
    );
  }
  return new StreamsError(
    'STREAMS_UNSUPPORTED_ENCODING',
    `[streams/index] column "${column}" has an unknown MDS encoding "${encoding}"`,
    { fix: `use one of ${MDS_ENCODINGS.filter((e) => e !== 'pkl').join(', ')}` },
  );
}

/** The coder for an MDS encoding string (`int32`, `ndarray:uint8:28,28`, `jpeg:90`, ...). */
export function mdsCoder(encoding: string, column = '?'): MdsCoder {
  const colon = encoding.indexOf(':');
  const name = colon === -1 ? encoding : encoding.slice(0, colon);
  const args = colon === -1 ? '' : encoding.slice(colon + 1);
  if (name === 'ndarray') return ndarrayCoder(encoding, args, column);
  if (colon !== -1 && name !== 'jpeg') throw unsupported(encoding, column);
  if (isDtype(name)) return scalarCoder(name, column);
  const textDecode = (buf: Uint8Array, off: number, len: number): string => {
    try {
      return utf8.decode(buf.subarray(off, off + len));
    } catch (cause) {
      throw new StreamsError(
        'STREAMS_DECODE_FAILED',
        `[streams/index] column "${column}" (${encoding}) is not valid UTF-8`,
        { cause, fix: 'the shard is damaged or the column encoding is wrong' },
      );
    }
  };
  switch (name) {
    case 'bytes':
      return {
        encoding,
        size: null,
        encode: (v) => bytesOf(v, column, encoding),
        decode: (buf, off, len) => buf.subarray(off, off + len),
      };
    case 'str':
      return {
        encoding,
        size: null,
        encode: (v) => {
          if (typeof v !== 'string')
            throw badValue(column, encoding, `expected a string, got ${describe(v)}`);
          return utf8enc.encode(v);
        },
        decode: textDecode,
      };
    case 'int': {
      const c = scalarCoder('int64', column);
      return { ...c, encoding };
    }
    case 'str_int':
      return {
        encoding,
        size: null,
        encode: (v) => utf8enc.encode(toBigInt(v, column, encoding).toString()),
        decode: (buf, off, len) => {
          const text = textDecode(buf, off, len).trim().replaceAll('_', '');
          if (!/^[+-]?\d+$/.test(text))
            throw new StreamsError(
              'STREAMS_DECODE_FAILED',
              `[streams/index] column "${column}" (str_int): "${text.slice(0, 40)}" is not an integer`,
              { fix: 'the shard is damaged or the column encoding is wrong' },
            );
          return toIntValue(BigInt(text));
        },
      };
    case 'str_float':
      return {
        encoding,
        size: null,
        encode: (v) => {
          if (typeof v !== 'number')
            throw badValue(column, encoding, `expected a number, got ${describe(v)}`);
          return utf8enc.encode(pyStrFloat(v));
        },
        decode: (buf, off, len) => parsePyFloat(textDecode(buf, off, len), column),
      };
    case 'str_decimal':
      return {
        encoding,
        size: null,
        // Decimals keep their exact digits as a string: JS numbers would round them.
        encode: (v) => {
          if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'bigint')
            throw badValue(column, encoding, `expected a decimal string, got ${describe(v)}`);
          return utf8enc.encode(String(v));
        },
        decode: (buf, off, len) => textDecode(buf, off, len),
      };
    case 'json':
      return {
        encoding,
        size: null,
        encode: (v) => utf8enc.encode(pyJsonDumps(v)),
        decode: (buf, off, len) => {
          const text = textDecode(buf, off, len);
          try {
            return JSON.parse(text);
          } catch {
            try {
              // Python's json writes NaN/Infinity, which JSON.parse refuses.
              return JSON.parse(text.replace(/\b(-?Infinity|NaN)\b/g, '"__py_$1__"'), (_k, x) =>
                x === '__py_NaN__'
                  ? Number.NaN
                  : x === '__py_Infinity__'
                    ? Number.POSITIVE_INFINITY
                    : x === '__py_-Infinity__'
                      ? Number.NEGATIVE_INFINITY
                      : x,
              );
            } catch (cause) {
              throw new StreamsError(
                'STREAMS_DECODE_FAILED',
                `[streams/index] column "${column}" (json) does not hold valid JSON`,
                { cause, fix: 'the shard is damaged or the column encoding is wrong' },
              );
            }
          }
        },
      };
    case 'jpeg':
    case 'png': {
      const format = name;
      if (name === 'jpeg' && args !== '' && !/^\d+$/.test(args))
        throw unsupported(encoding, column);
      return {
        encoding,
        size: null,
        encode: (v) => bytesOf(v, column, encoding),
        decode: (buf, off, len): EncodedImage => ({
          format,
          bytes: buf.subarray(off, off + len),
        }),
      };
    }
    case 'pil':
      return {
        encoding,
        size: null,
        encode: (v) => {
          const img = v as Partial<RawImage>;
          if (!img || typeof img.mode !== 'string' || !(img.bytes instanceof Uint8Array))
            throw badValue(column, encoding, 'expected {mode, width, height, bytes}');
          const mode = utf8enc.encode(img.mode);
          const out = new Uint8Array(12 + mode.length + img.bytes.length);
          const dv = new DataView(out.buffer);
          dv.setUint32(0, img.width ?? 0, true);
          dv.setUint32(4, img.height ?? 0, true);
          dv.setUint32(8, mode.length, true);
          out.set(mode, 12);
          out.set(img.bytes, 12 + mode.length);
          return out;
        },
        decode: (buf, off, len, dv): RawImage => {
          if (len < 12)
            throw new StreamsError(
              'STREAMS_SHARD_CORRUPT',
              `[streams/index] column "${column}" (pil) is shorter than its 12-byte header`,
              { fix: 'rewrite the shard' },
            );
          const width = dv.getUint32(off, true);
          const height = dv.getUint32(off + 4, true);
          const modeLen = dv.getUint32(off + 8, true);
          if (12 + modeLen > len)
            throw new StreamsError(
              'STREAMS_SHARD_CORRUPT',
              `[streams/index] column "${column}" (pil) mode runs past the sample`,
              { fix: 'rewrite the shard' },
            );
          const mode = textDecode(buf, off + 12, modeLen);
          return {
            format: 'pil',
            mode,
            width,
            height,
            bytes: buf.subarray(off + 12 + modeLen, off + len),
          };
        },
      };
  }
  throw unsupported(encoding, column);
}

/** Python's `str(float)`. */
function pyStrFloat(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (v === Number.POSITIVE_INFINITY) return 'inf';
  if (v === Number.NEGATIVE_INFINITY) return '-inf';
  return pyFloatRepr(v);
}

function parsePyFloat(text: string, column: string): number {
  const t = text.trim().toLowerCase().replaceAll('_', '');
  if (t === 'nan' || t === '+nan' || t === '-nan') return Number.NaN;
  if (t === 'inf' || t === '+inf' || t === 'infinity' || t === '+infinity')
    return Number.POSITIVE_INFINITY;
  if (t === '-inf' || t === '-infinity') return Number.NEGATIVE_INFINITY;
  const v = Number(t);
  if (t === '' || Number.isNaN(v))
    throw new StreamsError(
      'STREAMS_DECODE_FAILED',
      `[streams/index] column "${column}" (str_float): "${text.slice(0, 40)}" is not a number`,
      { fix: 'the shard is damaged or the column encoding is wrong' },
    );
  return v;
}
