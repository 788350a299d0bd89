// Python's `json.dumps` output, byte for byte, so files we write (MDS index.json, shard headers,
// `json` columns) are identical to what MosaicML `streaming` writes for the same input.
import { StreamsError } from '@streams/core';

/** Options of {@link pyJsonDumps}; defaults match Python's `json.dumps(obj)`. */
export interface PyJsonOptions {
  /** `sort_keys=True` (sorted by code point, as Python compares strings). */
  sortKeys?: boolean;
}

/** A float formatted like Python's `repr(float)`: `1.0`, `1e-05`, `1e+16`, `nan`-free JSON (`NaN`, `Infinity`). */
export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Number.POSITIVE_INFINITY) return 'Infinity';
  if (x === Number.NEGATIVE_INFINITY) return '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  // toExponential() without digits gives the shortest round-trip digits, as Python's repr does.
  const [mant = '', expText = '0'] = x.toExponential().split('e');
  const neg = mant.startsWith('-');
  const digits = mant.replace('-', '').replace('.', '');
  const exp = Number(expText);
  const decpt = exp + 1; // value = 0.<digits> * 10^decpt
  let body: string;
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) body = `0.${'0'.repeat(-decpt)}${digits}`;
    else if (decpt >= digits.length) body = `${digits}${'0'.repeat(decpt - digits.length)}.0`;
    else body = `${digits.slice(0, decpt)}.${digits.slice(decpt)}`;
  } else {
    const m = digits.length === 1 ? digits : `${digits[0]}.${digits.slice(1)}`;
    const e = Math.abs(exp);
    body = `${m}e${exp < 0 ? '-' : '+'}${e < 10 ? `0${e}` : e}`;
  }
  return neg ? `-${body}` : body;
}

/** A string quoted like Python's json module with `ensure_ascii=True`. */
export function pyJsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c >= 0x20 && c <= 0x7e) out += s[i];
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x08) out += '\\b';
    else if (c === 0x0c) out += '\\f';
    else out += `\\u${c.toString(16).padStart(4, '0')}`;
  }
  return `${out}"`;
}

/** Compares strings by Unicode code point, as Python's `sorted()` does (JS sorts by UTF-16 unit). */
export function compareCodePoints(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const d = (x[i]?.codePointAt(0) ?? 0) - (y[i]?.codePointAt(0) ?? 0);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

/**
 * `json.dumps(value)` as Python writes it: `", "` and `": "` separators, ASCII-only output,
 * integers (integral numbers and bigints) without a fraction, other numbers as Python floats.
 */
export function pyJsonDumps(value: unknown, options: PyJsonOptions = {}): string {
  try {
    return dump(value, options.sortKeys ?? false);
  } catch (cause) {
    throw tooDeepForJson(cause);
  }
}

/**
 * A stack overflow (a value nested thousands of levels deep, as untrusted JSONL can be) as a
 * `STREAMS_INVALID_ARGUMENT`; other errors as they are.
 */
export function tooDeepForJson(cause: unknown): unknown {
  if (!(cause instanceof RangeError)) return cause;
  return new StreamsError(
    'STREAMS_INVALID_ARGUMENT',
    `[streams/index] a value cannot be written as JSON: ${cause.message}`,
    { cause, fix: 'flatten values nested thousands of levels deep, or leave the column out' },
  );
}

function dump(v: unknown, sortKeys: boolean): string {
  if (v === null || v === undefined) return 'null';
  if (v === true) return 'true';
  if (v === false) return 'false';
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') {
    if (Number.isInteger(v) && !Object.is(v, -0)) return BigInt(v).toString();
    return pyFloatRepr(v);
  }
  if (typeof v === 'string') return pyJsonString(v);
  if (Array.isArray(v)) return `[${v.map((x) => dump(x, sortKeys)).join(', ')}]`;
  if (ArrayBuffer.isView(v)) {
    const arr = Array.from(v as unknown as ArrayLike<number | bigint>);
    return `[${arr.map((x) => dump(x, sortKeys)).join(', ')}]`;
  }
  if (typeof v === 'object') {
    const keys = Object.keys(v as object);
    if (sortKeys) keys.sort(compareCodePoints);
    const obj = v as Record<string, unknown>;
    return `{${keys.map((k) => `${pyJsonString(k)}: ${dump(obj[k], sortKeys)}`).join(', ')}}`;
  }
  throw new TypeError(`cannot encode ${typeof v} as JSON`);
}
