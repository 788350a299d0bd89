// CSV records straight from their bytes into typed columns: the open pass types each column from
// the bytes of its cells (an integer is recognized without making a string, a text column stops
// being looked at once it is text), and a chunk load writes cells into typed arrays and one UTF-8
// buffer per text column. Strings are made only for the cells a type needs them for (floats).

import type { Field } from 'apache-arrow';
import {
  Bool,
  type DataType,
  Float64,
  Int64,
  makeData,
  makeVector,
  type RecordBatch,
  Utf8,
  type Vector,
} from 'apache-arrow';
import {
  type CsvRecordView,
  type CsvType,
  convertCsvCell,
  csvFieldText,
  mergeCsvType,
  widenCsvType,
} from '../csv.js';
import { batchOf } from './tablePart.js';

/** The Arrow type of a CSV column type (a column of empty cells only is text). */
export const arrowTypeOfCsv = (t: CsvType | undefined): DataType =>
  t === 'int'
    ? new Int64()
    : t === 'float'
      ? new Float64()
      : t === 'bool'
        ? new Bool()
        : new Utf8();

const MINUS = 0x2d;
const PLUS = 0x2b;

/**
 * The value of field f when it is a safe integer written as one run of `[+-]digits`, else
 * undefined (empty, quoted with escapes, or anything else).
 */
function intOf(r: CsvRecordView, f: number): number | undefined {
  const k = f === 0 ? 0 : (r.ends[f - 1] as number);
  if ((r.ends[f] as number) - k !== 2) return undefined;
  const buf = r.buf;
  const a = r.runs[k] as number;
  const b = r.runs[k + 1] as number;
  let p = a;
  const sign = buf[p];
  if (sign === MINUS || sign === PLUS) p++;
  if (p === b) return undefined;
  let n = 0;
  for (; p < b; p++) {
    const d = (buf[p] as number) - 0x30;
    if (d < 0 || d > 9) return undefined;
    n = n * 10 + d;
  }
  if (b - a > 15) {
    // Past 15 digits the running sum may round: the exact parse of the text decides.
    n = Math.abs(Number(buf.toString('latin1', a, b)));
    if (!Number.isSafeInteger(n)) return undefined;
  }
  return sign === MINUS ? -n : n;
}

const isEmpty = (r: CsvRecordView, f: number) =>
  (r.ends[f] as number) === (f === 0 ? 0 : (r.ends[f - 1] as number));

/** Widens `types` (one per column) by the cells of a record. */
export function widenCsvTypes(types: (CsvType | undefined)[], r: CsvRecordView): void {
  for (let f = 0; f < types.length; f++) {
    const t = types[f];
    if (t === 'string' || isEmpty(r, f)) continue;
    types[f] =
      intOf(r, f) !== undefined ? mergeCsvType(t, 'int') : widenCsvType(t, csvFieldText(r, f));
  }
}

/** One column of a chunk being built. */
interface Column {
  add(r: CsvRecordView, f: number, i: number): boolean;
  vector(n: number): Vector;
}

/** Validity bits of a column: allocated at its first null. */
class Validity {
  bits: Uint8Array | undefined;
  nulls = 0;
  constructor(private readonly capacity: number) {}
  null(i: number): void {
    if (!this.bits) this.bits = new Uint8Array((this.capacity + 7) >> 3).fill(0xff); // [capacity bits]
    this.bits[i >> 3] = (this.bits[i >> 3] as number) & ~(1 << (i & 7));
    this.nulls++;
  }
}

function intColumn(capacity: number): Column {
  const values = new BigInt64Array(capacity); // [rows]
  const halves = new Int32Array(values.buffer); // [rows, 2] little-endian (lo, hi)
  const valid = new Validity(capacity);
  return {
    add(r, f, i) {
      if (isEmpty(r, f)) {
        valid.null(i);
        return true;
      }
      const n = intOf(r, f);
      if (n === undefined) return false;
      halves[2 * i] = n | 0;
      halves[2 * i + 1] = Math.floor(n / 4294967296);
      return true;
    },
    vector: (n) =>
      makeVector(
        makeData({
          type: new Int64(),
          length: n,
          nullCount: valid.nulls,
          nullBitmap: valid.bits,
          data: values.subarray(0, n),
        }),
      ),
  };
}

function floatColumn(capacity: number): Column {
  const values = new Float64Array(capacity); // [rows]
  const valid = new Validity(capacity);
  return {
    add(r, f, i) {
      if (isEmpty(r, f)) {
        valid.null(i);
        return true;
      }
      const n = intOf(r, f) ?? convertCsvCell('float', csvFieldText(r, f));
      if (typeof n !== 'number') return false;
      values[i] = n;
      return true;
    },
    vector: (n) =>
      makeVector(
        makeData({
          type: new Float64(),
          length: n,
          nullCount: valid.nulls,
          nullBitmap: valid.bits,
          data: values.subarray(0, n),
        }),
      ),
  };
}

function boolColumn(capacity: number): Column {
  const bits = new Uint8Array((capacity + 7) >> 3); // [rows bits]
  const valid = new Validity(capacity);
  return {
    add(r, f, i) {
      if (isEmpty(r, f)) {
        valid.null(i);
        return true;
      }
      const v = convertCsvCell('bool', csvFieldText(r, f));
      if (typeof v !== 'boolean') return false;
      if (v) bits[i >> 3] = (bits[i >> 3] as number) | (1 << (i & 7));
      return true;
    },
    vector: (n) =>
      makeVector(
        makeData({
          type: new Bool(),
          length: n,
          nullCount: valid.nulls,
          nullBitmap: valid.bits,
          data: bits,
        }),
      ),
  };
}

/** Text cells copied byte for byte into one buffer with offsets (re-encoded only when bad UTF-8 was replaced). */
function textColumn(capacity: number, replace: boolean): Column {
  const offsets = new Int32Array(capacity + 1); // [rows + 1]
  let data = Buffer.allocUnsafe(Math.max(1024, capacity * 16));
  let at = 0;
  const valid = new Validity(capacity);
  const room = (bytes: number) => {
    if (at + bytes <= data.length) return;
    const next = Buffer.allocUnsafe(Math.max(data.length * 2, at + bytes));
    data.copy(next, 0, 0, at);
    data = next;
  };
  return {
    add(r, f, i) {
      let k = f === 0 ? 0 : (r.ends[f - 1] as number);
      const stop = r.ends[f] as number;
      if (k === stop) valid.null(i);
      else if (!r.ascii && replace) {
        const text = csvFieldText(r, f);
        room(Buffer.byteLength(text));
        at += data.write(text, at);
      } else
        for (; k < stop; k += 2) {
          const a = r.runs[k] as number;
          const b = r.runs[k + 1] as number;
          room(b - a);
          at += r.buf.copy(data, at, a, b);
        }
      offsets[i + 1] = at;
      return true;
    },
    vector: (n) =>
      makeVector(
        makeData({
          type: new Utf8(),
          length: n,
          nullCount: valid.nulls,
          nullBitmap: valid.bits,
          valueOffsets: offsets.subarray(0, n + 1),
          data: data.subarray(0, at),
        }),
      ),
  };
}

/**
 * Builds a record batch of at most `capacity` rows from CSV records, columns typed as `types`.
 * `add` is false when a record does not fit (another field count, a cell not of its column's
 * type): the file is not the one that was typed.
 */
export class CsvBatchBuilder {
  readonly #columns: Column[];
  rows = 0;

  constructor(
    private readonly fields: Field[],
    types: readonly (CsvType | undefined)[],
    private readonly capacity: number,
    replaceBadUtf8: boolean,
  ) {
    this.#columns = types.map((t) =>
      t === 'int'
        ? intColumn(capacity)
        : t === 'float'
          ? floatColumn(capacity)
          : t === 'bool'
            ? boolColumn(capacity)
            : textColumn(capacity, replaceBadUtf8),
    );
  }

  add(r: CsvRecordView): boolean {
    const cols = this.#columns;
    if (r.count !== cols.length || this.rows >= this.capacity) return false;
    for (let f = 0; f < cols.length; f++)
      if (!(cols[f] as Column).add(r, f, this.rows)) return false;
    this.rows++;
    return true;
  }

  finish(): RecordBatch {
    const n = this.rows;
    return batchOf(
      this.fields,
      this.#columns.map((c) => c.vector(n)),
      n,
    );
  }
}
