// The `.npy` codec lives here because two packages read it (`@streams/transforms` for tensor
// fields, `@streams/index` for WebDataset members) and neither may import the other. Own code, not
// `npyjs` (1.2.0, read 2026-12): it depends on `cross-fetch` for a URL loader we do not use, throws
// plain `Error`s or `RangeError`s, rejects big-endian descrs (`>i4`), reports but does not refuse
// Fortran order, and does not check the shape against the data; the format itself is ~100 lines.
import {
  DTYPES,
  type Dtype,
  float16ToFloat32,
  type TypedArray,
  type TypedArrayConstructor,
} from './dtype.js';
import { StreamsError } from './errors.js';

/** Element types of a `.npy` array: the numeric dtypes plus `bool` (one byte, 0 or 1). */
export type NpyDtype = Dtype | 'bool';

/** A decoded `.npy` array: row-major `data` (float16 widened to Float32Array, bool as Uint8Array). */
export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  data: TypedArray;
}

/** Where the bytes came from, for error messages: `what` (e.g. `member "a.npy"`) and its URL. */
export interface NpyWhere {
  what?: string;
  url?: string;
}

function bad(
  where: NpyWhere,
  why: string,
  fix: string,
  code: 'STREAMS_DECODE_FAILED' | 'STREAMS_UNSUPPORTED_ENCODING' = 'STREAMS_DECODE_FAILED',
): StreamsError {
  const what = where.what === undefined ? '' : `${where.what}: `;
  return new StreamsError(code, `[streams/core] ${what}${why}`, { fix, url: where.url });
}

const hostLittle = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Views or copies `bytes` as a typed array of `dtype` (`count` elements). Little-endian aligned
 * data is viewed without a copy; big-endian or unaligned data is copied once; float16 and bfloat16
 * widen to Float32Array.
 */
export function typedArrayFrom(
  bytes: Uint8Array,
  dtype: NpyDtype | 'bfloat16',
  count: number,
  littleEndian = true,
  where: NpyWhere = {},
): TypedArray {
  const size =
    dtype === 'bfloat16' || dtype === 'float16' ? 2 : dtype === 'bool' ? 1 : DTYPES[dtype].bytes;
  if (bytes.byteLength < count * size) {
    throw bad(
      where,
      `tensor data is truncated: ${bytes.byteLength} bytes for ${count} x ${dtype}`,
      'the file is cut short or its header is wrong: re-create it',
    );
  }
  if (dtype === 'float16' || dtype === 'bfloat16') {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, count * 2);
    const out = new Float32Array(count); // [count]
    if (dtype === 'bfloat16') {
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) u[i] = dv.getUint16(i * 2, littleEndian) << 16;
    } else
      for (let i = 0; i < count; i++) out[i] = float16ToFloat32(dv.getUint16(i * 2, littleEndian));
    return out;
  }
  const Ctor: TypedArrayConstructor = dtype === 'bool' ? Uint8Array : DTYPES[dtype].array;
  if (size === 1 || (littleEndian === hostLittle && bytes.byteOffset % size === 0)) {
    return new Ctor(bytes.buffer, bytes.byteOffset, count);
  }
  const copy = new Uint8Array(count * size);
  if (littleEndian === hostLittle) copy.set(bytes.subarray(0, count * size));
  else {
    for (let i = 0; i < count; i++)
      for (let k = 0; k < size; k++) copy[i * size + k] = bytes[i * size + size - 1 - k] ?? 0;
  }
  return new Ctor(copy.buffer, 0, count);
}

const NPY_KINDS: Record<string, NpyDtype> = {
  b1: 'bool',
  ...Object.fromEntries(Object.entries(DTYPES).map(([name, info]) => [info.npy, name as Dtype])),
};

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/**
 * Decodes a `.npy` file (format versions 1-3): every numeric dtype and bool, either byte order,
 * C order. Fortran-order, object and structured arrays are refused with a clear error.
 */
export function decodeNpy(bytes: Uint8Array, where: NpyWhere = {}): NpyArray {
  if (bytes.byteLength < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw bad(
      where,
      'not a .npy file (bad magic)',
      'pass the bytes of a file written by numpy.save',
    );
  }
  const major = bytes[6] ?? 0;
  if (major < 1 || major > 3)
    throw bad(
      where,
      `.npy format version ${major} is not 1, 2 or 3`,
      're-create the file with numpy.save',
    );
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const start = major === 1 ? 10 : 12;
  const headerLen =
    major === 1 ? dv.getUint16(8, true) : bytes.byteLength >= 12 ? dv.getUint32(8, true) : Infinity;
  if (start + headerLen > bytes.byteLength)
    throw bad(where, '.npy header is truncated', 're-create the file');
  const header = new TextDecoder(major >= 3 ? 'utf-8' : 'latin1').decode(
    bytes.subarray(start, start + headerLen),
  );
  if (!/^\s*\{[^{}]*\}\s*$/.test(header))
    throw bad(
      where,
      `.npy header is not a dict: ${header.trim().slice(0, 200)}`,
      're-create the file with numpy.save',
    );
  const descr = /'descr':\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^()]*)\)/.exec(header)?.[1];
  if (descr === undefined) {
    if (/'descr':\s*\[/.test(header)) {
      throw bad(
        where,
        '.npy structured (record) arrays are not supported',
        'save each field as its own array',
        'STREAMS_UNSUPPORTED_ENCODING',
      );
    }
    throw bad(
      where,
      `.npy header has no descr: ${header.trim().slice(0, 200)}`,
      're-create the file with numpy.save',
    );
  }
  if (fortran === undefined)
    throw bad(
      where,
      `.npy header has no fortran_order: ${header.trim().slice(0, 200)}`,
      're-create the file',
    );
  if (fortran === 'True') {
    throw bad(
      where,
      '.npy array is in Fortran order; only C order is supported',
      'save np.ascontiguousarray(a) instead of a Fortran-ordered array',
      'STREAMS_UNSUPPORTED_ENCODING',
    );
  }
  const dims = shapeText
    ?.split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (dims === undefined || dims.some((d) => !/^\d{1,15}L?$/.test(d)))
    throw bad(
      where,
      `.npy header has no valid shape: ${header.trim().slice(0, 200)}`,
      're-create the file',
    );
  const shape = dims.map((s) => Number(s.replace(/L$/, '')));
  const order = descr[0] ?? '';
  const kind = descr.slice(1);
  if (kind === 'O') {
    throw bad(
      where,
      '.npy object arrays (pickled Python objects) are not supported',
      'save a numeric array (np.asarray(a, dtype=np.float32)); pickles are never loaded',
      'STREAMS_UNSUPPORTED_ENCODING',
    );
  }
  const dtype = NPY_KINDS[kind];
  if (!dtype || !'<>|='.includes(order) || order === '') {
    throw bad(
      where,
      `.npy dtype ${descr} is not supported`,
      'use a bool, integer or float dtype',
      'STREAMS_UNSUPPORTED_ENCODING',
    );
  }
  const count = shape.reduce((a, b) => a * b, 1);
  const littleEndian = order === '=' ? hostLittle : order !== '>';
  const data = typedArrayFrom(bytes.subarray(start + headerLen), dtype, count, littleEndian, where);
  return { data, shape, dtype };
}

/**
 * A `.npy` file (version 1.0, or 2.0 when the header needs it) of `data`: the array's values as
 * little-endian bytes in C order (float16 as 2-byte halves), `shape` its dimensions.
 */
export function encodeNpy(dtype: NpyDtype, shape: readonly number[], data: Uint8Array): Uint8Array {
  const code = dtype === 'bool' ? 'b1' : DTYPES[dtype].npy;
  const descr = `${code.endsWith('1') ? '|' : '<'}${code}`;
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${dims}), }`;
  // numpy pads the header with spaces and a newline so the data starts on a 64-byte boundary.
  const padded = (pre: number) => Math.ceil((pre + dict.length + 1) / 64) * 64;
  const pre = padded(10) - 10 > 0xffff ? 12 : 10;
  const total = padded(pre);
  const headerLen = total - pre;
  const out = new Uint8Array(total + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = pre === 10 ? 1 : 2;
  const dv = new DataView(out.buffer);
  if (pre === 10) dv.setUint16(8, headerLen, true);
  else dv.setUint32(8, headerLen, true);
  const text = `${dict.padEnd(headerLen - 1, ' ')}\n`;
  for (let i = 0; i < text.length; i++) out[pre + i] = text.charCodeAt(i);
  out.set(data, total);
  return out;
}
