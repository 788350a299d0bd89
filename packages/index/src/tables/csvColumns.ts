// CSV records straight from their bytes into typed columns: the open pass types each column from
// the bytes of its cells (an integer is recognized without making a string, a text column stops
// being looked at once it is text), and a chunk's builder (at open, or when the chunk is read
// again) writes cells into typed arrays and one UTF-8 buffer per text column. Strings are made
// only for the cells a type needs them for (floats, bools).

import { Bool, type DataType, Field, Float64, Int64, type RecordBatch, Utf8 } from 'apache-arrow';
import {
  type CsvRecordView,
  type CsvType,
  convertCsvCell,
  csvFieldText,
  mergeCsvType,
  widenCsvType,
} from '../csv.js';
import { batchOf } from './tablePart.js';
import { BOOL, ColumnState, FLOAT, INT, TEXT } from './typedColumns.js';

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
        c.setInt(i, n);
      } else if (c.kind === TEXT) {
        if (!r.ascii && this.replaceBadUtf8) c.setText(i, csvFieldText(r, f));
        else {
          for (let q = first; q < stop; q += 2)
            c.append(buf, runs[q] as number, runs[q + 1] as number);
          c.offsets[i + 1] = c.at;
        }
      } else {
        const v = convertCsvCell(c.kind === FLOAT ? 'float' : 'bool', csvFieldText(r, f));
        if (c.kind === FLOAT) {
          if (typeof v !== 'number') return false;
          c.floats[i] = v;
        } else {
          if (typeof v !== 'boolean') return false;
          c.setBool(i, v);
        }
      }
    }
    this.rows++;
    return true;
  }

  /** The batch of the rows added; `compact` copies text into buffers of its exact size (for batches kept long). */
  finish(compact = false): RecordBatch {
    const n = this.rows;
    if (compact) for (const c of this.#columns) c.compact();
    return batchOf(
      this.fields,
      this.#columns.map((c) => c.vector(n)),
      n,
    );
  }
}
