import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** One benchmark figure with its reference measured in the same run (the root bench contract). */
export interface BenchEntry {
  name: string;
  /** Unit of `value` and `referenceValue`, e.g. `MiB/s`, `samples/s`, `ops/s`. */
  unit: string;
  value: number;
  /** What the reference is, e.g. `raw GetObjectCommand`. */
  reference: string;
  referenceValue: number;
  /** value / referenceValue, oriented so that higher is better (computed by {@link benchEntry}). */
  ratio: number;
  /** The ratio the issue asks for, or null when it sets none. */
  target: number | null;
}

/**
 * Builds an entry. `lowerIsBetter` is for times and memory: the ratio is then
 * referenceValue / value, so a ratio above 1 still means "better than the reference".
 */
export function benchEntry(
  e: Omit<BenchEntry, 'ratio' | 'target'> & { target?: number | null; lowerIsBetter?: boolean },
): BenchEntry {
  const ratio = e.lowerIsBetter ? e.referenceValue / e.value : e.value / e.referenceValue;
  return {
    name: e.name,
    unit: e.unit,
    value: e.value,
    reference: e.reference,
    referenceValue: e.referenceValue,
    ratio: Number.isFinite(ratio) ? ratio : 0,
    target: e.target ?? null,
  };
}

/** Formats entries as a fixed-width table. */
export function benchTable(entries: readonly BenchEntry[]): string {
  const rows = entries.map((e) => [
    e.name,
    `${fmt(e.value)} ${e.unit}`,
    `${e.reference}: ${fmt(e.referenceValue)} ${e.unit}`,
    e.ratio.toFixed(3),
    e.target === null ? '-' : `${fmt(e.target)}${e.ratio >= e.target ? ' ok' : ' MISSED'}`,
  ]);
  const head = ['benchmark', 'value', 'reference', 'ratio', 'target'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** Writes `bench-results.json` into `dir` (the package directory) and prints the table. */
export function writeBenchResults(entries: readonly BenchEntry[], dir = process.cwd()): void {
  writeFileSync(join(dir, 'bench-results.json'), `${JSON.stringify(entries, null, 2)}\n`);
  console.log(benchTable(entries));
}

function fmt(x: number): string {
  if (x === 0) return '0';
  if (Math.abs(x) >= 100) return x.toFixed(0);
  if (Math.abs(x) >= 1) return x.toFixed(2);
  return x.toPrecision(3);
}
