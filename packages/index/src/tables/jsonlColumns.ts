// JSONL records straight from their bytes into typed columns: a line that is one flat object of
// strings, numbers, bools and nulls is scanned in place (strings copied as bytes, integers summed
// from their digits, no row object); any other line (nested values, escaped keys, repeated keys,
// bad UTF-8, bad JSON) is parsed by JSON.parse as before, which also makes its error. A column
// widens as its values do (int, then a float or a string), within a chunk and over the file.

import { isUtf8 } from 'node:buffer';
import {
  Bool,
  type DataType,
  Field,
  Float64,
  Int32,
  Int64,
  Null,
  type RecordBatch,
  Utf8,
  type Vector,
} from 'apache-arrow';
import { jsonText } from '../arrowConvert.js';
import { batchOf } from './tablePart.js';
import {
  BOOL,
  ColumnState,
  FLOAT,
  INT,
  NONE,
  nullVector,
  TEXT,
  widenColumn,
} from './typedColumns.js';

/** The kind that holds values of kinds a and b: ints and floats are floats, other mixes text. */
function joinKinds(a: number, b: number): number {
  if (a === NONE || a === b) return b;
  if (b === NONE) return a;
  return (a === INT && b === FLOAT) || (a === FLOAT && b === INT) ? FLOAT : TEXT;
}

/** The Arrow type of a column kind (ints in 32 bits unless a value is `wide`). */
function arrowType(kind: number, wide: boolean): DataType {
  if (kind === INT) return wide ? new Int64() : new Int32();
  if (kind === FLOAT) return new Float64();
  if (kind === BOOL) return new Bool();
  if (kind === TEXT) return new Utf8();
  return new Null();
}

/** The columns of a JSONL file in order of first appearance, with their kinds over the rows so far. */
export class JsonlColumns {
  readonly names: string[] = [];
  readonly keys: Buffer[] = []; // [column] the name's UTF-8 bytes
  readonly kinds: number[] = [];
  readonly wide: boolean[] = []; // [column] an INT column holding a value past 32 bits
  readonly #index = new Map<string, number>();
  /** No column is added once the file is typed: a chunk read again with a new key does not fit. */
  frozen = false;

  indexOf(name: string): number {
    return this.#index.get(name) ?? -1;
  }

  add(name: string): number {
    const k = this.names.length;
    this.#index.set(name, k);
    this.names.push(name);
    this.keys.push(Buffer.from(name));
    this.kinds.push(NONE);
    this.wide.push(false);
    return k;
  }

  /** Widens the file's kinds by a chunk's. */
  merge(chunk: JsonlChunkBuilder): void {
    for (let k = 0; k < this.names.length; k++) {
      this.kinds[k] = joinKinds(this.kinds[k] as number, chunk.cols[k]?.kind ?? NONE);
      if (chunk.wide[k]) this.wide[k] = true;
    }
  }

  fields(): Field[] {
    return this.names.map(
      (n, k) => new Field(n, arrowType(this.kinds[k] as number, this.wide[k] as boolean), true),
    );
  }
}

/** What {@link JsonlScanner.scan} found on a line. */
export const BLANK = 0 as const;
export const FLAT = 1 as const;
export const OTHER = 2 as const;

const V_NUMBER = 0;
const V_BYTES = 1; // a string without escapes: its bytes [a, b)
const V_STRING = 2; // a string with escapes, decoded
const V_TRUE = 3;
const V_FALSE = 4;
const V_NULL = 5;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const TWO_63 = 2 ** 63;

/** The end of the JSON whitespace (space, tab, CR) from p. */
function skipSpace(buf: Buffer, p: number, end: number): number {
  while (p < end) {
    const x = buf[p];
    if (x !== 0x20 && x !== 0x09 && x !== 0x0d) break;
    p++;
  }
  return p;
}

/** Whether bytes at p are `word` (ASCII). */
function isWord(buf: Buffer, p: number, end: number, word: string): boolean {
  if (p + word.length > end) return false;
  for (let j = 0; j < word.length; j++) if (buf[p + j] !== word.charCodeAt(j)) return false;
  return true;
}

/**
 * Scans one line for a flat object of scalars into its fields (column, kind, value), touching no
 * column: a line it does not take is parsed by JSON.parse instead, so it only takes valid JSON.
 */
export class JsonlScanner {
  count = 0;
  col = new Int32Array(16); // [field] the column, or -1 for a key new to the file
  kind = new Uint8Array(16); // [field] V_*
  a = new Int32Array(16); // [field] a V_BYTES value's bytes [a, b)
  b = new Int32Array(16);
  num = new Float64Array(16); // [field] a V_NUMBER value
  str: (string | undefined)[] = []; // [field] a V_STRING value
  newKey: (string | undefined)[] = []; // [field] the name of a key new to the file
  #order: number[] = []; // [field] the column of this field on the line before
  #seen: number[] = []; // [column] the line that last named it (repeated keys)
  #line = 0;

  constructor(readonly columns: JsonlColumns) {}

  #grow(): void {
    const n = this.kind.length * 2;
    const more = <T extends Int32Array | Uint8Array | Float64Array>(
      x: T,
      make: new (n: number) => T,
    ) => {
      const y = new make(n);
      y.set(x);
      return y;
    };
    this.col = more(this.col, Int32Array);
    this.kind = more(this.kind, Uint8Array);
    this.a = more(this.a, Int32Array);
    this.b = more(this.b, Int32Array);
    this.num = more(this.num, Float64Array);
  }

  /** The column of key bytes [ka, kb) (ASCII, no escapes), or -1 (its name kept in `newKey`). */
  #key(buf: Buffer, ka: number, kb: number, f: number): number {
    const { keys } = this.columns;
    const guess = this.#order[f];
    if (guess !== undefined) {
      const key = keys[guess] as Buffer;
      if (key.length === kb - ka) {
        let j = 0;
        while (j < key.length && key[j] === buf[ka + j]) j++;
        if (j === key.length) return guess;
      }
    }
    const name = buf.toString('latin1', ka, kb);
    const k = this.columns.indexOf(name);
    if (k >= 0) this.#order[f] = k;
    else this.newKey[f] = name;
    return k;
  }

  /** Scans a number at p into field f; its end, or -1 when it is not JSON. */
  #number(buf: Buffer, p: number, end: number, f: number): number {
    const a = p;
    const neg = buf[p] === MINUS;
    if (neg) p++;
    const d0 = p;
    let v = 0;
    for (; p < end; p++) {
      const d = (buf[p] as number) - ZERO;
      if (d < 0 || d > 9) break;
      v = v * 10 + d;
    }
    const digits = p - d0;
    if (digits === 0 || (digits > 1 && buf[d0] === ZERO)) return -1;
    let exact = digits <= 15; // a sum of at most 15 digits is exact
    if (p < end && buf[p] === DOT) {
      const f0 = ++p;
      while (p < end && (buf[p] as number) >= ZERO && (buf[p] as number) <= NINE) p++;
      if (p === f0) return -1;
      exact = false;
    }
    if (p < end && (buf[p] === 0x65 || buf[p] === 0x45)) {
      p++;
      if (p < end && (buf[p] === PLUS || buf[p] === MINUS)) p++;
      const e0 = p;
      while (p < end && (buf[p] as number) >= ZERO && (buf[p] as number) <= NINE) p++;
      if (p === e0) return -1;
      exact = false;
    }
    this.num[f] = exact ? (neg ? -v : v) : Number(buf.toString('latin1', a, p));
    this.kind[f] = V_NUMBER;
    return p;
  }

  /** BLANK, FLAT (the fields are set), or OTHER (JSON.parse decides). */
  scan(buf: Buffer, start: number, end: number): number {
    let p = skipSpace(buf, start, end);
    if (p === end) return BLANK;
    if (buf[p] !== LBRACE) return OTHER;
    p = skipSpace(buf, p + 1, end);
    const line = ++this.#line;
    let n = 0;
    if (p < end && buf[p] === RBRACE) p++;
    else
      for (;;) {
        if (p >= end || buf[p] !== QUOTE) return OTHER;
        const ka = p + 1;
        let q = ka;
        for (; q < end; q++) {
          const x = buf[q] as number;
          if (x === QUOTE) break;
          if (x === BACKSLASH || x < 0x20 || x >= 0x80) return OTHER;
        }
        if (q >= end) return OTHER;
        if (n === this.kind.length) this.#grow();
        const k = this.#key(buf, ka, q, n);
        if (k >= 0) {
          if (this.#seen[k] === line) return OTHER;
          this.#seen[k] = line;
        } else
          for (let g = 0; g < n; g++)
            if (this.col[g] === -1 && this.newKey[g] === this.newKey[n]) return OTHER;
        this.col[n] = k;
        p = skipSpace(buf, q + 1, end);
        if (p >= end || buf[p] !== COLON) return OTHER;
        p = skipSpace(buf, p + 1, end);
        const x = buf[p];
        if (p >= end) return OTHER;
        if (x === QUOTE) {
          const a = p + 1;
          let escaped = false;
          let high = false;
          for (q = a; q < end; q++) {
            const y = buf[q] as number;
            if (y === QUOTE) break;
            if (y === BACKSLASH) {
              escaped = true;
              q++;
            } else if (y < 0x20) return OTHER;
            else if (y >= 0x80) high = true;
          }
          if (q >= end) return OTHER;
          if (high && !isUtf8(buf.subarray(a, q))) return OTHER;
          if (escaped) {
            try {
              this.str[n] = JSON.parse(buf.toString('utf8', p, q + 1)) as string;
            } catch {
              return OTHER;
            }
            this.kind[n] = V_STRING;
          } else {
            this.kind[n] = V_BYTES;
            this.a[n] = a;
            this.b[n] = q;
          }
          p = q + 1;
        } else if (x === MINUS || (x !== undefined && x >= ZERO && x <= NINE)) {
          p = this.#number(buf, p, end, n);
          if (p < 0) return OTHER;
        } else if (isWord(buf, p, end, 'true')) {
          this.kind[n] = V_TRUE;
          p += 4;
        } else if (isWord(buf, p, end, 'false')) {
          this.kind[n] = V_FALSE;
          p += 5;
        } else if (isWord(buf, p, end, 'null')) {
          this.kind[n] = V_NULL;
          p += 4;
        } else return OTHER;
        n++;
        p = skipSpace(buf, p, end);
        if (p < end && buf[p] === COMMA) {
          p = skipSpace(buf, p + 1, end);
          continue;
        }
        if (p < end && buf[p] === RBRACE) {
          p++;
          break;
        }
        return OTHER;
      }
    if (skipSpace(buf, p, end) !== end) return OTHER;
    this.count = n;
    return FLAT;
  }
}

/**
 * Builds a record batch of at most `capacity` rows of JSONL records. Each column is kept in the
 * kind its values need so far; `finish` makes the batch in the file's kinds (`columns`), or
 * undefined when the rows do not fit them (a chunk read again from a file changed since).
 */
export class JsonlChunkBuilder {
  readonly cols: (ColumnState | undefined)[] = [];
  readonly wide: boolean[] = []; // [column] an int value past 32 bits
  readonly #written: number[] = []; // [column] the last row given a value
  readonly #negativeZeros: number[][] = []; // [column] the rows of an int column that are -0
  rows = 0;
  #mismatch = false;

  constructor(
    readonly columns: JsonlColumns,
    readonly capacity: number,
    private readonly textBytes: (k: number) => number = () => capacity * 16,
  ) {}

  /** Bytes of text in column k (a size hint for the next chunk's builder). */
  textLength(k: number): number {
    return this.cols[k]?.at ?? 0;
  }

  #resolve(name: string): number {
    const k = this.columns.indexOf(name);
    if (k >= 0 || !this.columns.frozen) return k >= 0 ? k : this.columns.add(name);
    this.#mismatch = true;
    return -1;
  }

  /** Column k at row i, made or widened to hold a value of `kind`. */
  #column(k: number, kind: number, i: number): ColumnState {
    this.#written[k] = i;
    let c = this.cols[k];
    if (!c) {
      c = new ColumnState(kind, this.capacity, Math.max(1024, Math.ceil(this.textBytes(k))));
      for (let j = 0; j < i; j++) c.null(j);
      this.cols[k] = c;
    } else if (c.kind !== kind) {
      const wider = joinKinds(c.kind, kind);
      if (wider !== c.kind) {
        c = this.#widen(k, c, wider, i);
        this.cols[k] = c;
      }
    }
    return c;
  }

  /** Column k widened; a -0 an int column held as 0 is -0 again as a float. */
  #widen(k: number, c: ColumnState, kind: number, rows: number): ColumnState {
    const out = widenColumn(c, kind, rows);
    if (kind === FLOAT) for (const i of this.#negativeZeros[k] ?? []) out.floats[i] = -0;
    return out;
  }

  #number(k: number, i: number, n: number): void {
    // As JSON values are typed elsewhere: an integral value is an int (Int64 past 32 bits).
    const c = this.#column(k, Number.isInteger(n) && n >= -TWO_63 && n < TWO_63 ? INT : FLOAT, i);
    if (c.kind === INT) {
      c.setInt(i, n);
      if (n < -2147483648 || n > 2147483647) this.wide[k] = true;
      else if (n === 0 && 1 / n < 0) {
        const rows = this.#negativeZeros[k] ?? [];
        rows.push(i);
        this.#negativeZeros[k] = rows;
      }
    } else if (c.kind === FLOAT) c.floats[i] = n;
    else c.setText(i, String(n));
  }

  #bool(k: number, i: number, v: boolean): void {
    const c = this.#column(k, BOOL, i);
    if (c.kind === BOOL) c.setBool(i, v);
    else c.setText(i, v ? 'true' : 'false');
  }

  #endRow(i: number): void {
    const cols = this.cols;
    for (let k = 0; k < cols.length; k++) if (this.#written[k] !== i) cols[k]?.null(i);
    this.rows++;
  }

  /** Adds the record `s` scanned from `buf`. */
  addScanned(s: JsonlScanner, buf: Buffer): void {
    const i = this.rows;
    for (let f = 0; f < s.count; f++) {
      let k = s.col[f] as number;
      if (k < 0) k = this.#resolve(s.newKey[f] as string);
      if (k < 0) continue;
      switch (s.kind[f]) {
        case V_NUMBER:
          this.#number(k, i, s.num[f] as number);
          break;
        case V_BYTES: {
          const c = this.#column(k, TEXT, i);
          c.append(buf, s.a[f] as number, s.b[f] as number);
          c.offsets[i + 1] = c.at;
          break;
        }
        case V_STRING:
          this.#column(k, TEXT, i).setText(i, s.str[f] as string);
          break;
        case V_TRUE:
        case V_FALSE:
          this.#bool(k, i, s.kind[f] === V_TRUE);
          break;
      }
    }
    this.#endRow(i);
  }

  /** Adds a record JSON.parse made; nested values are kept as JSON text. */
  addRecord(record: Record<string, unknown>): void {
    const i = this.rows;
    for (const name of Object.keys(record)) {
      const k = this.#resolve(name);
      const v = record[name];
      if (k < 0 || v === null) continue;
      if (typeof v === 'number') this.#number(k, i, v);
      else if (typeof v === 'boolean') this.#bool(k, i, v);
      else this.#column(k, TEXT, i).setText(i, typeof v === 'string' ? v : jsonText(v));
    }
    this.#endRow(i);
  }

  /**
   * Copies text into buffers of its size (for a chunk kept until the file is typed) and returns
   * the bytes its batch will hold (an int column of 32-bit values becomes an Int32 one).
   */
  compact(): number {
    let bytes = 0;
    this.cols.forEach((c, k) => {
      if (!c) return;
      c.compact();
      bytes += c.byteLength - (c.kind === INT && !this.wide[k] ? c.halves.byteLength / 2 : 0);
    });
    return bytes;
  }

  /** The rows as a batch of the file's columns and kinds; undefined when they do not fit them. */
  finish(): RecordBatch | undefined {
    const { columns } = this;
    if (this.#mismatch) return undefined;
    const n = this.rows;
    const vectors: Vector[] = [];
    for (let k = 0; k < columns.names.length; k++) {
      const kind = columns.kinds[k] as number;
      const wide = columns.wide[k] as boolean;
      let c = this.cols[k];
      if (!c) {
        vectors.push(nullVector(arrowType(kind, wide), n));
        continue;
      }
      if (c.kind !== kind) {
        if (joinKinds(c.kind, kind) !== kind) return undefined;
        c = this.#widen(k, c, kind, n);
      }
      if (kind === INT && !wide) {
        if (this.wide[k]) return undefined;
        vectors.push(c.int32Vector(n));
      } else vectors.push(c.vector(n));
    }
    return batchOf(columns.fields(), vectors, n);
  }
}
