import { throwIfAborted } from '@streams/core';
import type { SampleDataset } from './formats/sampleDataset.js';

/** Per-column figures of {@link DatasetStats}. */
export interface ColumnStats {
  name: string;
  type: string;
  /** Samples where the column is null or missing. */
  nulls: number;
}

/** What `streams inspect` prints. */
export interface DatasetStats {
  url: string;
  format: string;
  count: number;
  totalBytes: number | undefined;
  /** Shard or index files, when known. */
  shards: number | undefined;
  columns: ColumnStats[];
  /** Value counts of label-like columns (few distinct integers or short strings), most frequent first. */
  histograms: Record<string, { value: string; count: number }[]>;
}

/** Options of {@link datasetStats}. */
export interface DatasetStatsOptions {
  signal?: AbortSignal;
  /** A column is histogrammed while it has at most this many distinct values (default 100). */
  maxDistinct?: number;
  /** Always histogram these columns (up to 10,000 distinct values). */
  labelColumns?: readonly string[];
  /** Stop after this many samples (the figures then describe a prefix). */
  limit?: number;
  /** Called with the samples read so far, after each one. */
  onProgress?: (samples: number) => void;
}

/** Reads a dataset once and computes count, bytes, null counts and label histograms. */
export async function datasetStats(
  ds: SampleDataset,
  options: DatasetStatsOptions = {},
): Promise<DatasetStats> {
  const maxDistinct = options.maxDistinct ?? 100;
  const forced = new Set(options.labelColumns ?? []);
  const columns = new Map<string, ColumnStats>(
    ds.columns.map((c) => [c.name, { name: c.name, type: c.type, nulls: 0 }]),
  );
  const hist = new Map<string, Map<string, number> | null>();
  let count = 0;
  // An index table's stored bytes are the sum of its size column, known once every row is read.
  const sizeColumn = ds.totalBytes === undefined ? ds.sizeColumn : undefined;
  let sized = 0;
  for await (const sample of ds.samples({ signal: options.signal, end: options.limit })) {
    if ((count & 1023) === 0) throwIfAborted(options.signal);
    for (const name of Object.keys(sample)) {
      if (!columns.has(name)) {
        // Columns that appear later (JSONL, WebDataset): earlier samples lacked them.
        columns.set(name, { name, type: typeof sample[name], nulls: count });
      }
    }
    if (sizeColumn !== undefined) sized += Number(sample[sizeColumn] ?? 0) || 0;
    for (const [name, col] of columns) {
      const v = sample[name];
      if (v === null || v === undefined) {
        col.nulls++;
        continue;
      }
      let h = hist.get(name);
      if (h === null) continue;
      const limit = forced.has(name) ? 10_000 : maxDistinct;
      const key =
        typeof v === 'number' && Number.isInteger(v)
          ? String(v)
          : typeof v === 'bigint'
            ? v.toString()
            : typeof v === 'string' && v.length <= 64
              ? v
              : typeof v === 'boolean'
                ? String(v)
                : undefined;
      if (key === undefined) {
        hist.set(name, null);
        continue;
      }
      if (!h) {
        h = new Map();
        hist.set(name, h);
      }
      h.set(key, (h.get(key) ?? 0) + 1);
      if (h.size > limit) hist.set(name, null);
    }
    count++;
    options.onProgress?.(count);
  }
  const histograms: DatasetStats['histograms'] = {};
  for (const [name, h] of hist) {
    if (!h || h.size === 0) continue;
    // A column with a distinct value per sample (ids) is not a label.
    if (!forced.has(name) && h.size === count && count > 1) continue;
    histograms[name] = [...h]
      .map(([value, c]) => ({ value, count: c }))
      .sort((a, b) => b.count - a.count || compareKeys(a.value, b.value));
  }
  return {
    url: ds.url,
    format: ds.format,
    count,
    totalBytes: sizeColumn !== undefined ? sized : ds.totalBytes,
    shards: ds.numShards,
    columns: [...columns.values()],
    histograms,
  };
}

function compareKeys(a: string, b: string): number {
  const x = Number(a);
  const y = Number(b);
  if (Number.isFinite(x) && Number.isFinite(y)) return x - y;
  return a < b ? -1 : a > b ? 1 : 0;
}
