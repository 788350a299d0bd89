// A reader for the numeric arrays of MATLAB Level 5 MAT-files (SVHN's format). It reads each
// variable's real part straight into one typed array (column-major, as MATLAB stores it).
// `mat-for-js` (the npm MAT reader) turns arrays into nested JS arrays: 73,257 SVHN images would
// become 225 million boxed numbers, so the few element types these files use are decoded here.
import { inflateSync } from 'node:zlib';
import { StreamsError, type TypedArray } from '@streams/core';

/** One numeric variable of a MAT-file. */
export interface MatArray {
  name: string;
  /** MATLAB dimensions, e.g. [32, 32, 3, n]; data is column-major (first index fastest). */
  dims: number[];
  data: Exclude<TypedArray, BigInt64Array | BigUint64Array>;
}

const MI_MATRIX = 14;
const MI_COMPRESSED = 15;
const READERS: Record<number, (b: Uint8Array, n: number) => MatArray['data']> = {
  1: (b, n) => new Int8Array(b.buffer, b.byteOffset, n),
  2: (b, n) => new Uint8Array(b.buffer, b.byteOffset, n),
  3: (b, n) => aligned(b, Int16Array, n),
  4: (b, n) => aligned(b, Uint16Array, n),
  5: (b, n) => aligned(b, Int32Array, n),
  6: (b, n) => aligned(b, Uint32Array, n),
  7: (b, n) => aligned(b, Float32Array, n),
  9: (b, n) => aligned(b, Float64Array, n),
};
const SIZES: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 9: 8 };

function aligned<T>(
  b: Uint8Array,
  Ctor: { new (buf: ArrayBuffer, off: number, n: number): T; BYTES_PER_ELEMENT: number },
  n: number,
): T {
  const copy = b.byteOffset % Ctor.BYTES_PER_ELEMENT === 0 ? b : b.slice();
  return new Ctor(copy.buffer as ArrayBuffer, copy.byteOffset, n);
}

function bad(where: string, what: string): StreamsError {
  return new StreamsError('STREAMS_INDEX_INVALID', `[streams/multistream] ${where}: ${what}`, {
    fix: 'remove the file so that it is downloaded again',
  });
}

/** A data element's type, payload and the offset after it (8-byte aligned unless compressed). */
function element(buf: Uint8Array, at: number, where: string) {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (at + 8 > buf.length) throw bad(where, `truncated element at byte ${at}`);
  const first = dv.getUint32(at, true);
  if (first >>> 16 !== 0) {
    // Small element: type and size in one word, up to 4 bytes of data in the next.
    const size = first >>> 16;
    return { type: first & 0xffff, data: buf.subarray(at + 4, at + 4 + size), next: at + 8 };
  }
  const size = dv.getUint32(at + 4, true);
  const end = at + 8 + size;
  if (end > buf.length) throw bad(where, `element at byte ${at} runs past the end`);
  const next = first === MI_COMPRESSED ? end : at + 8 + Math.ceil(size / 8) * 8;
  return { type: first, data: buf.subarray(at + 8, end), next };
}

/** Reads the numeric variables of a little-endian Level 5 MAT-file (compressed or not). */
export function readMatFile(buf: Uint8Array, where: string): Map<string, MatArray> {
  if (buf.length < 128 || !new TextDecoder().decode(buf.subarray(0, 6)).startsWith('MATLAB'))
    throw bad(where, 'not a MATLAB 5.0 MAT-file');
  if (buf[126] !== 0x49 || buf[127] !== 0x4d)
    throw bad(where, 'only little-endian MAT-files are supported');
  const out = new Map<string, MatArray>();
  const visit = (bytes: Uint8Array, at: number) => {
    while (at < bytes.length) {
      const el = element(bytes, at, where);
      if (el.type === MI_COMPRESSED) visit(inflateSync(el.data), 0);
      else if (el.type === MI_MATRIX) {
        const v = matrix(el.data, where);
        if (v) out.set(v.name, v);
      }
      at = el.next;
    }
  };
  visit(buf, 128);
  return out;
}

/** A numeric matrix's name, dimensions and real part (cells, structs and sparse are skipped). */
function matrix(body: Uint8Array, where: string): MatArray | undefined {
  const flags = element(body, 0, where);
  const cls = flags.data[0]!;
  if (cls < 6 || cls > 13) return undefined; // not a numeric class
  if (flags.data[1]! & 0x08) return undefined; // complex
  const dimsEl = element(body, flags.next, where);
  const dims = Array.from(aligned(dimsEl.data, Int32Array, dimsEl.data.length / 4));
  const nameEl = element(body, dimsEl.next, where);
  const name = new TextDecoder().decode(nameEl.data);
  const real = element(body, nameEl.next, where);
  const read = READERS[real.type];
  if (!read) throw bad(where, `variable ${name} has unsupported data type ${real.type}`);
  const n = real.data.length / SIZES[real.type]!;
  if (n !== dims.reduce((a, b) => a * b, 1))
    throw bad(where, `variable ${name} has ${n} values for dimensions [${dims.join(', ')}]`);
  return { name, dims, data: read(real.data, n) };
}
