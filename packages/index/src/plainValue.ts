// Arrow values and types as plain JS, with no Apache Arrow at run time (for modules that only
// name types or hand out rows).
import type { DataType } from 'apache-arrow';

/** Arrow type as a short name for messages and `streams inspect`. */
export function typeName(t: DataType): string {
  return String(t)
    .replace(/<.*>/, '')
    .replace(/^Dictionary$/, 'Utf8');
}

/** Plain JS value of an Arrow cell: 64-bit integers become numbers when exact, else bigint. */
export function plainValue(v: unknown): unknown {
  if (typeof v === 'bigint')
    return v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v;
  return v;
}
