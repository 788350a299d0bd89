// Rows of a record batch as plain objects, read straight from the columns' buffers: per batch, one
// reader per column (typed-array index, UTF-8 slice of the value buffer, 64-bit integers from their
// two halves), so a row costs its object and its strings, not a visitor call per cell.
import type { Data, Float, Int, RecordBatch } from 'apache-arrow';
import { plainValue } from '../plainValue.js';

type Cell = (i: number) => unknown;

const TWO_32 = 4294967296;
// Arrow's type ids (its format's Type enum) and Precision.HALF as numbers: reading rows loads no
// Arrow code (a batch was made by code that did).
const INT = 2;
const FLOAT = 3;
const UTF8 = 5;
const BOOL = 6;
const HALF = 0;

/** A reader of one column's values (nulls not handled); undefined when only Arrow's `get` will do. */
function valueReader(d: Data): Cell | undefined {
  if (d.offset !== 0) return undefined;
  const t = d.type;
  const id = t.typeId as number;
  if (id === UTF8) {
    const v = d.values as Uint8Array;
    const buf = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    const offsets = d.valueOffsets as Int32Array;
    return (i) => buf.toString('utf8', offsets[i], offsets[i + 1]);
  }
  if (id === INT && (t as Int).bitWidth === 64 && (t as Int).isSigned) {
    const v = d.values as BigInt64Array;
    const halves = new Int32Array(v.buffer, v.byteOffset, v.length * 2); // [rows, 2] (lo, hi)
    return (i) => {
      const n = (halves[2 * i + 1] as number) * TWO_32 + ((halves[2 * i] as number) >>> 0);
      return Number.isSafeInteger(n) ? n : plainValue(v[i]);
    };
  }
  if (
    (id === INT && (t as Int).bitWidth < 64) ||
    (id === FLOAT && ((t as Float).precision as number) !== HALF)
  ) {
    const v = d.values as Float64Array;
    return (i) => v[i];
  }
  if (id === BOOL) {
    const v = d.values as Uint8Array;
    return (i) => ((v[i >> 3] as number) & (1 << (i & 7))) !== 0;
  }
  return undefined;
}

function cellReader(b: RecordBatch, k: number): Cell {
  const d = b.data.children[k];
  const vector = b.getChildAt(k);
  if (!d || !vector) return () => null;
  const get = valueReader(d) ?? ((i: number) => plainValue(vector.get(i) ?? null));
  const bits = d.nullCount > 0 ? d.nullBitmap : undefined;
  if (!bits || d.offset !== 0) return get;
  return (i) => (((bits[i >> 3] as number) & (1 << (i & 7))) === 0 ? null : get(i));
}

type RowOf = (cells: Cell[], i: number) => Record<string, unknown>;
const rowMakers = new Map<string, RowOf>();

/**
 * An object literal of the batch's column names, compiled once per column list (as MDS decoders
 * are): one hidden class for every row. Only names enter the source, as JSON string literals.
 */
function rowMaker(names: string[]): RowOf {
  const key = JSON.stringify(names);
  let make = rowMakers.get(key);
  if (!make) {
    const fields = names.map((n, k) => {
      const name = JSON.stringify(n);
      // A quoted "__proto__" key in a literal sets the prototype; a computed one is a field.
      return n === '__proto__' ? `[${name}]: cells[${k}](i)` : `${name}: cells[${k}](i)`;
    });
    make = new Function('cells', 'i', `return { ${fields.join(', ')} };`) as RowOf;
    if (rowMakers.size > 256) rowMakers.clear();
    rowMakers.set(key, make);
  }
  return make;
}

const readers = new WeakMap<RecordBatch, (i: number) => Record<string, unknown>>();

/** A function giving row i of `b` as a plain object (64-bit integers as numbers when exact). */
export function rowReader(b: RecordBatch): (i: number) => Record<string, unknown> {
  let read = readers.get(b);
  if (read) return read;
  const names = b.schema.fields.map((f) => f.name);
  const cells = names.map((_, k) => cellReader(b, k));
  const make = rowMaker(names);
  read = (i) => make(cells, i);
  readers.set(b, read);
  return read;
}
