import {
  Binary,
  Bool,
  type DataType,
  Float64,
  Int32,
  Int64,
  makeBuilder,
  makeData,
  makeVector,
  Null,
  TimestampMillisecond,
  Utf8,
  type Vector,
} from 'apache-arrow';
import { tooDeepForJson } from './pyJson.js';

const utf8 = new TextEncoder();

/** Fast paths for columns without nulls: typed arrays and one UTF-8 buffer instead of a builder. */
function denseVector(values: ArrayLike<unknown>, type: DataType): Vector | undefined {
  const n = values.length;
  for (let i = 0; i < n; i++) if (values[i] === null || values[i] === undefined) return undefined;
  if (type instanceof Int64) {
    const out = new BigInt64Array(n); // [n]
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (typeof v === 'bigint') out[i] = v;
      else if (typeof v === 'number' && Number.isInteger(v)) out[i] = BigInt(v);
      else return undefined;
    }
    return makeVector(out);
  }
  if (type instanceof Int32) {
    const out = new Int32Array(n); // [n]
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (typeof v !== 'number' || !Number.isInteger(v)) return undefined;
      out[i] = v;
    }
    return makeVector(out);
  }
  if (type instanceof Float64) {
    const out = new Float64Array(n); // [n]
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (typeof v === 'number') out[i] = v;
      else if (typeof v === 'bigint') out[i] = Number(v);
      else return undefined;
    }
    return makeVector(out);
  }
  if (type instanceof Utf8) {
    const offsets = new Int32Array(n + 1); // [n + 1]
    let buf = new Uint8Array(Math.max(64, n * 16));
    let pos = 0;
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (typeof v !== 'string') return undefined;
      if (pos + v.length * 3 > buf.length) {
        const next = new Uint8Array(Math.max(buf.length * 2, pos + v.length * 3));
        next.set(buf.subarray(0, pos));
        buf = next;
      }
      pos += utf8.encodeInto(v, buf.subarray(pos)).written;
      offsets[i + 1] = pos;
    }
    return makeVector(
      makeData({
        type: new Utf8(),
        length: n,
        nullCount: 0,
        valueOffsets: offsets,
        data: buf.subarray(0, pos),
      }),
    );
  }
  return undefined;
}

/** The Arrow type that holds every value of a JS column (ints, floats, strings, bytes, dates). */
export function inferArrowType(values: ArrayLike<unknown>): DataType {
  let kind = 'null' as Kind;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) continue;
    let k: Kind;
    if (typeof v === 'number')
      k = Number.isInteger(v) ? (v >= -(2 ** 31) && v < 2 ** 31 ? 'int32' : 'int64') : 'float';
    else if (typeof v === 'bigint') k = 'bigint';
    else if (typeof v === 'boolean') k = 'bool';
    else if (typeof v === 'string') k = 'string';
    else if (v instanceof Uint8Array) k = 'binary';
    else if (v instanceof Date) k = 'date';
    else k = 'string'; // lists and objects are kept as JSON text
    kind = widen(kind, k);
    if (kind === 'string') break;
  }
  switch (kind) {
    case 'null':
      return new Null();
    case 'int32':
      return new Int32();
    case 'int64':
    case 'bigint':
      return new Int64();
    case 'float':
      return new Float64();
    case 'bool':
      return new Bool();
    case 'binary':
      return new Binary();
    case 'date':
      return new TimestampMillisecond();
    default:
      return new Utf8();
  }
}

type Kind = 'null' | 'int32' | 'int64' | 'bigint' | 'float' | 'bool' | 'string' | 'binary' | 'date';
const NUMERIC: Kind[] = ['int32', 'int64', 'bigint', 'float'];

function widen(a: Kind, b: Kind): Kind {
  if (a === 'null' || a === b) return b;
  if (NUMERIC.includes(a) && NUMERIC.includes(b)) {
    if (a === 'float' || b === 'float') return 'float';
    return a === 'int32' ? b : b === 'int32' ? a : 'int64';
  }
  return 'string';
}

/** Builds a vector of `type` from JS values, converting where the type needs it. */
export function toArrowVector(values: ArrayLike<unknown>, type: DataType): Vector {
  const dense = denseVector(values, type);
  if (dense) return dense;
  const b = makeBuilder({ type, nullValues: [null, undefined] });
  const isInt64 = type instanceof Int64;
  const isUtf8 = type instanceof Utf8;
  const isFloat = type instanceof Float64;
  for (let i = 0; i < values.length; i++) {
    let v = values[i];
    if (v !== null && v !== undefined) {
      if (isInt64 && typeof v === 'number') v = BigInt(v);
      else if (isFloat && typeof v === 'bigint') v = Number(v);
      else if (isUtf8 && typeof v !== 'string') v = jsonText(v);
      else if (type instanceof TimestampMillisecond && v instanceof Date) v = v.getTime();
    }
    b.append(v);
  }
  return b.finish().toVector();
}

/** A value as JSON text (bigints as their digits); too deep a value is `STREAMS_INVALID_ARGUMENT`. */
export function jsonText(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x));
  } catch (cause) {
    throw tooDeepForJson(cause);
  }
}
