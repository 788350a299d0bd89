// The typed columns CSV and JSONL chunks are built in: typed arrays and one UTF-8 buffer per text
// column, written cell by cell and made into Arrow vectors without copying. A JSONL column whose
// values widen (int, then a float or a string) is rewritten as a column of the wider kind.

import {
  Bool,
  type DataType,
  Float64,
  Int32,
  Int64,
  makeData,
  makeVector,
  Null,
  Utf8,
  type Vector,
} from 'apache-arrow';

/** Column kinds, narrowest first where one widens to another (INT to FLOAT, any to TEXT). */
export const INT = 0;
export const FLOAT = 1;
export const BOOL = 2;
export const TEXT = 3;
/** A column with no value yet (all null): the kind of no column state. */
export const NONE = -1;
const TWO_32 = 4294967296;

/** One column of a chunk being built: every column has every field (one shape, one hidden class). */
export class ColumnState {
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
    if (this.kind === TEXT) this.offsets[i + 1] = this.at;
  }

  isNull(i: number): boolean {
    return (
      this.nullBits !== undefined && ((this.nullBits[i >> 3] as number) & (1 << (i & 7))) === 0
    );
  }

  /** Row i of an INT column. */
  int(i: number): number {
    return (this.halves[2 * i + 1] as number) * TWO_32 + ((this.halves[2 * i] as number) >>> 0);
  }

  setInt(i: number, n: number): void {
    this.halves[2 * i] = n | 0;
    this.halves[2 * i + 1] = Math.floor(n / TWO_32);
  }

  setBool(i: number, v: boolean): void {
    if (v) this.bits[i >> 3] = (this.bits[i >> 3] as number) | (1 << (i & 7));
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

  /** Appends bytes [s, e) of `buf` to a TEXT column's value being written. */
  append(buf: Buffer, s: number, e: number): void {
    const d = this.room(e - s);
    let at = this.at;
    // A loop beats Buffer#copy's call overhead on cells of a few dozen bytes.
    if (e - s > 256) at += buf.copy(d, at, s, e);
    else for (let p = s; p < e; p++) d[at++] = buf[p] as number;
    this.at = at;
  }

  /** Sets row i of a TEXT column to `text`. */
  setText(i: number, text: string): void {
    this.at += this.room(Buffer.byteLength(text)).write(text, this.at);
    this.offsets[i + 1] = this.at;
  }

  /** Bytes held. */
  get byteLength(): number {
    return (
      (this.nullBits?.byteLength ?? 0) +
      this.halves.byteLength +
      this.floats.byteLength +
      this.bits.byteLength +
      this.offsets.byteLength +
      this.data.byteLength
    );
  }

  /** Copies text into a buffer of its exact size (for columns kept long). */
  compact(): void {
    if (this.kind === TEXT && this.data.length > this.at * 1.25)
      this.data = Buffer.from(this.data.subarray(0, this.at));
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

  /** An INT column whose values all fit 32 bits as an Int32 vector. */
  int32Vector(n: number): Vector {
    const out = new Int32Array(n); // [n]
    for (let i = 0; i < n; i++) out[i] = this.halves[2 * i] as number;
    return makeVector(
      makeData({
        type: new Int32(),
        length: n,
        nullCount: this.nulls,
        nullBitmap: this.nullBits,
        data: out,
      }),
    );
  }
}

/** The JSON text of row i of a non-text column (how JSON tables write numbers and bools as text). */
function cellText(c: ColumnState, i: number): string {
  if (c.kind === INT) return String(c.int(i));
  if (c.kind === FLOAT) return String(c.floats[i]);
  return ((c.bits[i >> 3] as number) & (1 << (i & 7))) !== 0 ? 'true' : 'false';
}

/** Rows [0, rows) of `c` as a column of the wider `kind` (FLOAT from INT, TEXT from any). */
export function widenColumn(c: ColumnState, kind: number, rows: number): ColumnState {
  const out = new ColumnState(kind, c.capacity, kind === TEXT ? rows * 8 + 1024 : 0);
  for (let i = 0; i < rows; i++) {
    if (c.isNull(i)) out.null(i);
    else if (kind === FLOAT) out.floats[i] = c.int(i);
    else out.setText(i, cellText(c, i));
  }
  return out;
}

/** A column of `n` nulls of an Arrow type. */
export function nullVector(type: DataType, n: number): Vector {
  if (type instanceof Null) return makeVector(makeData({ type, length: n, nullCount: n }));
  const kind =
    type instanceof Float64
      ? FLOAT
      : type instanceof Bool
        ? BOOL
        : type instanceof Utf8
          ? TEXT
          : INT;
  const c = new ColumnState(kind, n, 0);
  for (let i = 0; i < n; i++) c.null(i);
  return type instanceof Int32 ? c.int32Vector(n) : c.vector(n);
}
