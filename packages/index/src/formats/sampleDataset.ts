// Any opened format read in order, as `streams cat`, `inspect` and `convert` consume it: unit after
// unit (streamed when the format can, else loaded and decoded), with the filter and the column
// selection applied here for formats that do not apply them themselves.
import { throwIfAborted } from '@streams/core';
import { compileFilter, type RowPredicate } from '../rowFilter.js';
import type { DatasetColumn, DatasetFormat, FormatDataset, Sample } from './format.js';

/** Any dataset read in order: what `streams cat`, `inspect` and `convert` consume. */
export interface SampleDataset extends AsyncDisposable {
  readonly url: string;
  readonly format: DatasetFormat;
  /** Number of samples when known without reading the data. */
  readonly numSamples: number | undefined;
  readonly columns: readonly DatasetColumn[];
  /** Stored bytes of the data (shards or files) when known. */
  readonly totalBytes: number | undefined;
  /** Number of units (shards, or chunks of index rows). */
  readonly numShards?: number;
  /** Index tables: columns whose values are URLs of bytes to download (resolved in samples). */
  readonly urlColumns?: readonly string[];
  /** Index tables: the column with each file's size, when there is one. */
  readonly sizeColumn?: string;
  /** The opened format underneath (units, loading), for readers that go further than samples(). */
  readonly dataset: FormatDataset;
  /** Samples `[start, end)` in dataset order. */
  samples(options?: { start?: number; end?: number; signal?: AbortSignal }): AsyncGenerator<Sample>;
  close(): Promise<void>;
}

/** Options of {@link asSampleDataset}. */
export interface SampleDatasetOptions {
  /** Keep only these columns (when the format has not already). */
  columns?: readonly string[];
  /** Keep the samples matching it (when the format has not already); `start`/`end` then count matches. */
  filter?: string | RowPredicate;
  /** Also closed when the dataset closes (a byte source opened for it). */
  onClose?: () => Promise<void>;
}

/** Reads an opened format in order, unit after unit. */
export function asSampleDataset(
  fd: FormatDataset,
  options: SampleDatasetOptions = {},
): SampleDataset {
  const predicate =
    typeof options.filter === 'string' ? compileFilter(options.filter) : options.filter;
  const columns = fd.selectsColumns ? undefined : options.columns;
  const project = (s: Sample): Sample => {
    if (!columns) return s;
    const out: Sample = {};
    for (const c of columns) if (Object.hasOwn(s, c)) out[c] = s[c];
    return out;
  };
  async function* all(signal?: AbortSignal): AsyncGenerator<Sample> {
    for (let k = 0; k < fd.units.length; k++) {
      throwIfAborted(signal);
      if (fd.stream) {
        yield* fd.stream(k, { signal });
        continue;
      }
      const u = await fd.load(k, { signal });
      try {
        for (let j = 0; j < u.samples; j++) yield u.decode(j);
      } finally {
        await u.release();
      }
    }
  }
  /** Samples [start, end) without a filter: whole units before `start` are skipped unread when counted. */
  async function* range(start: number, end: number, signal?: AbortSignal): AsyncGenerator<Sample> {
    let i = 0;
    for (let k = 0; k < fd.units.length && i < end; k++) {
      throwIfAborted(signal);
      const n = fd.units[k]?.samples;
      if (n !== undefined && i + n <= start) {
        i += n;
        continue;
      }
      if (fd.stream) {
        for await (const s of fd.stream(k, { signal })) {
          if (i >= start) yield project(s);
          if (++i >= end) return;
        }
        continue;
      }
      const u = await fd.load(k, { signal });
      try {
        for (let j = Math.max(0, start - i); j < u.samples && i + j < end; j++)
          yield project(u.decode(j));
        i += u.samples;
      } finally {
        await u.release();
      }
    }
  }
  const known = fd.units.every((u) => u.samples !== undefined)
    ? fd.units.reduce((a, u) => a + (u.samples ?? 0), 0)
    : undefined;
  const close = async () => {
    await fd.close();
    await options.onClose?.();
  };
  return {
    url: fd.url,
    format: fd.format,
    numSamples: predicate ? undefined : known,
    get columns() {
      return columns ? fd.columns.filter((c) => columns.includes(c.name)) : fd.columns;
    },
    totalBytes: fd.totalBytes,
    numShards: fd.units.length,
    urlColumns: fd.urlColumns,
    sizeColumn: fd.sizeColumn,
    dataset: fd,
    async *samples(o = {}) {
      const start = Math.max(0, o.start ?? 0);
      const end = o.end ?? Number.POSITIVE_INFINITY;
      if (start >= end) return;
      if (!predicate) {
        yield* range(start, end, o.signal);
        return;
      }
      let i = 0;
      for await (const s of all(o.signal)) {
        if (!predicate(s)) continue;
        if (i >= start) yield project(s);
        if (++i >= end) return;
      }
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
