// CSV records straight from their bytes into typed columns: the open pass types each column from
// the bytes of its cells (an integer is recognized without making a string, a text column stops
// being looked at once it is text), and a chunk's builder (at open, or when the chunk is read
// again) writes cells into typed arrays and one UTF-8 buffer per text column. Strings are made
// only for the cells a type needs them for (floats, bools).

import {
  Bool,
  type DataType,
  Field,
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

/** The Arrow fields of CSV columns of these names and types. */
export const csvFields = (names: readonly string[], types: readonly (CsvType | undefined)[]) =>
  names.map((n, k) => new Field(n, arrowTypeOfCsv(types[k]), true));

/** The Arrow type of a CSV column type (a column of empty cells only is text). */
const arrowTypeOfCsv = (t: CsvType | undefined): DataType =>
  t === 'int'
    ? new Int64()
    : t === 'float'
      ? new Float64()
      : t === 'bool'
        ? new Bool()
        : new Utf8();

const MINUS = 0x2d;
const PLUS = 0x2b;

/** The value of bytes [a, b) of `buf` when they are a safe integer written `[+-]digits`, else NaN. */
function intBytes(buf: Buffer, a: number, b: number): number {
  let p = a;
  const sign = buf[p];
  if (sign === MINUS || sign === PLUS) p++;
  if (p === b) return Number.NaN;
  let n = 0;
  for (; p < b; p++) {
    const d = (buf[p] as number) - 0x30;
    if (d < 0 || d > 9) return Number.NaN;
    n = n * 10 + d;
  }
  if (b - a > 15) {
    // Past 15 digits the running sum may round: the exact parse of the text decides.
    n = Math.abs(Number(buf.toString('latin1', a, b)));
    if (!Number.isSafeInteger(n)) return Number.NaN;
  }
  return sign === MINUS ? -n : n;
}

/** Field f as an integer (one run of `[+-]digits`, a safe integer), else NaN. */
function intOf(r: CsvRecordView, f: number): number {
  const k = f === 0 ? 0 : (r.ends[f - 1] as number);
  if ((r.ends[f] as number) - k !== 2) return Number.NaN;
  return intBytes(r.buf, r.runs[k] as number, r.runs[k + 1] as number);
}

/** Widens `types` (one per column) by the cells of a record, but for the columns `skip` marks. */
export function widenCsvTypes(
  types: (CsvType | undefined)[],
  r: CsvRecordView,
  skip?: readonly boolean[],
): void {
  let k = 0;
  for (let f = 0; f < types.length; f++) {
    const t = types[f];
    const stop = r.ends[f] as number;
    if (t !== 'string' && stop !== k && !skip?.[f])
      types[f] = Number.isNaN(intOf(r, f))
        ? widenCsvType(t, csvFieldText(r, f))
        : mergeCsvType(t, 'int');
    k = stop;
  }
}

const INT = 0;
const FLOAT = 1;
const BOOL = 2;
const TEXT = 3;
const TWO_32 = 4294967296;

/** One column of a chunk being built: every column has every field (one shape, one hidden class). */
class ColumnState {
  nullBits: Uint8Array | undefined; // [rows bits] validity, made at the first null
  nulls = 0;
  halves: Int32Array; // [rows, 2] an Int64 column's (lo, hi) halves
  floats: Float64Array; // [rows]
  bits: Uint8Array; // [rows bits] a Bool column's values
  offsets: Int32Array; // [rows + 1] a text column's value offsets
  data: Buffer; // a text column's UTF-8 bytes
  at = 0;

  constructor(
    readonly kind: number,
    readonly capacity: number,
    textBytes: number,
  ) {
    this.halves = new Int32Array(kind === INT ? 2 * capacity : 0);
    this.floats = new Float64Array(kind === FLOAT ? capacity : 0);
    this.bits = new Uint8Array(kind === BOOL ? (capacity + 7) >> 3 : 0);
    this.offsets = new Int32Array(kind === TEXT ? capacity + 1 : 0);
    this.data = Buffer.allocUnsafe(kind === TEXT ? textBytes : 0);
  }

  null(i: number): void {
    if (!this.nullBits) this.nullBits = new Uint8Array((this.capacity + 7) >> 3).fill(0xff);
    this.nullBits[i >> 3] = (this.nullBits[i >> 3] as number) & ~(1 << (i & 7));
    this.nulls++;
  }

  /** Room for `bytes` more bytes of text. */
  room(bytes: number): Buffer {
    if (this.at + bytes > this.data.length) {
      const next = Buffer.allocUnsafe(Math.max(this.data.length * 2, this.at + bytes));
      this.data.copy(next, 0, 0, this.at);
      this.data = next;
    }
    return this.data;
  }

  vector(n: number): Vector {
    const base = { length: n, nullCount: this.nulls, nullBitmap: this.nullBits };
    switch (this.kind) {
      case INT:
        return makeVector(
          makeData({
            ...base,
            type: new Int64(),
            data: new BigInt64Array(this.halves.buffer, 0, n),
          }),
        );
      case FLOAT:
        return makeVector(
          makeData({ ...base, type: new Float64(), data: this.floats.subarray(0, n) }),
        );
      case BOOL:
        return makeVector(makeData({ ...base, type: new Bool(), data: this.bits }));
      default:
        return makeVector(
          makeData({
            ...base,
            type: new Utf8(),
            valueOffsets: this.offsets.subarray(0, n + 1),
            data: this.data.subarray(0, this.at),
          }),
        );
    }
  }
}

/**
 * Builds a record batch of at most `capacity` rows from CSV records, columns typed as `types`.
 * `add` is false when a record does not fit (another field count, a cell not of its column's
 * type): the file is not the one that was typed.
 */
export class CsvBatchBuilder {
  readonly #columns: ColumnState[];
  rows = 0;

  readonly fields: Field[];
  /**
   * Columns whose type a record this builder took cannot widen: its int and bool columns take
   * exactly the cells those types hold (text ones are widest already).
   */
  readonly settled: boolean[];

  constructor(
    names: readonly string[],
    types: readonly (CsvType | undefined)[],
    private readonly capacity: number,
    private readonly replaceBadUtf8: boolean,
    textBytes: (k: number) => number = () => capacity * 16,
  ) {
    this.fields = csvFields(names, types);
    this.settled = types.map((t) => t === 'int' || t === 'bool' || t === 'string');
    this.#columns = types.map(
      (t, k) =>
        new ColumnState(
          t === 'int' ? INT : t === 'float' ? FLOAT : t === 'bool' ? BOOL : TEXT,
          capacity,
          Math.max(1024, Math.ceil(textBytes(k))),
        ),
    );
  }

  /** Bytes of text in column k so far (a size hint for the next chunk's builder). */
  textBytes(k: number): number {
    return this.#columns[k]?.at ?? 0;
  }

  add(r: CsvRecordView): boolean {
    const cols = this.#columns;
    const i = this.rows;
    if (r.count !== cols.length || i >= this.capacity) return false;
    const { buf, runs, ends } = r;
    let k = 0;
    for (let f = 0; f < cols.length; f++) {
      const c = cols[f] as ColumnState;
      const stop = ends[f] as number;
      if (stop === k) {
        c.null(i);
        if (c.kind === TEXT) c.offsets[i + 1] = c.at;
        continue;
      }
      const first = k;
      k = stop;
      if (c.kind === INT) {
        const n =
          stop - first === 2
            ? intBytes(buf, runs[first] as number, runs[first + 1] as number)
            : Number.NaN;
        if (Number.isNaN(n)) return false;
        c.halves[2 * i] = n | 0;
        c.halves[2 * i + 1] = Math.floor(n / TWO_32);
      } else if (c.kind === TEXT) {
        if (!r.ascii && this.replaceBadUtf8) {
          const text = csvFieldText(r, f);
          c.at += c.room(Buffer.byteLength(text)).write(text, c.at);
        } else
          for (let q = first; q < stop; q += 2) {
            const s = runs[q] as number;
            const e = runs[q + 1] as number;
            const d = c.room(e - s);
            let at = c.at;
            // A loop beats Buffer#copy's call overhead on cells of a few dozen bytes.
            if (e - s > 256) at += buf.copy(d, at, s, e);
            else for (let p = s; p < e; p++) d[at++] = buf[p] as number;
            c.at = at;
          }
        c.offsets[i + 1] = c.at;
      } else {
        const v = convertCsvCell(c.kind === FLOAT ? 'float' : 'bool', csvFieldText(r, f));
        if (c.kind === FLOAT) {
          if (typeof v !== 'number') return false;
          c.floats[i] = v;
        } else {
          if (typeof v !== 'boolean') return false;
          if (v) c.bits[i >> 3] = (c.bits[i >> 3] as number) | (1 << (i & 7));
        }
      }
    }
    this.rows++;
    return true;
  }

  /** The batch of the rows added; `compact` copies text into buffers of its exact size (for batches kept long). */
  finish(compact = false): RecordBatch {
    const n = this.rows;
    if (compact)
      for (const c of this.#columns)
        if (c.kind === TEXT && c.data.length > c.at * 1.25)
          c.data = Buffer.from(c.data.subarray(0, c.at));
    return batchOf(
      this.fields,
      this.#columns.map((c) => c.vector(n)),
      n,
    );
  }
}
