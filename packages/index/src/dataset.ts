import { typeName } from './arrowConvert.js';
import {
  type ByteSource,
  basenameUrl,
  isRemoteUrl,
  joinUrl,
  RoutingByteSource,
} from './byteSource.js';
import { type IndexTable, type IndexTableOptions, openIndexTable } from './indexTable.js';
import { type MdsDataset, openMdsDataset } from './mdsDataset.js';
import { compileFilter, type RowPredicate } from './rowFilter.js';
import { openCsvDataset, openJsonlDataset } from './textShards.js';
import { openWebDataset } from './webDataset.js';

/** The shard or index formats {@link openDataset} recognizes. */
export type DatasetFormat = 'mds' | 'wds' | 'jsonl' | 'csv' | 'table';

/** A column as `streams inspect` shows it. */
export interface DatasetColumn {
  name: string;
  /** Encoding (MDS), extension (WebDataset) or Arrow type (tables). */
  type: string;
}

/** Options of {@link openDataset}. */
export interface OpenDatasetOptions
  extends Pick<
    IndexTableOptions,
    | 'urlColumns'
    | 'sizeColumn'
    | 'hashColumn'
    | 'filter'
    | 'localCopy'
    | 'allowUrls'
    | 'maxLineBytes'
    | 'maxCellBytes'
    | 'invalidUtf8'
  > {
  signal?: AbortSignal;
  /** Force a format instead of detecting it from the URL. */
  format?: DatasetFormat;
  /** Decode only these columns (MDS). */
  columns?: readonly string[];
  /** Check shard hashes listed in index.json (MDS). */
  validateHashes?: boolean | string;
  source?: ByteSource;
}

/** Any dataset read in order: what `streams cat`, `inspect` and `convert` consume. */
export interface SampleDataset extends AsyncDisposable {
  readonly url: string;
  readonly format: DatasetFormat;
  /** Number of samples when known without reading the data. */
  readonly numSamples: number | undefined;
  readonly columns: readonly DatasetColumn[];
  /** Stored bytes of the data (shards or files) when known. */
  readonly totalBytes: number | undefined;
  /** Number of shard or index files. */
  readonly numShards?: number;
  /** Index tables: columns whose values are URLs of bytes to download (resolved in samples). */
  readonly urlColumns?: readonly string[];
  /** Samples `[start, end)` in dataset order. */
  samples(options?: {
    start?: number;
    end?: number;
    signal?: AbortSignal;
  }): AsyncGenerator<Record<string, unknown>>;
  close(): Promise<void>;
}

/** Detects the format of a dataset URL from its name and, for directories, from index.json. */
export async function detectFormat(
  url: string,
  source: ByteSource,
  signal?: AbortSignal,
): Promise<DatasetFormat> {
  const byName = formatOfName(url);
  if (byName) return byName;
  const name = basenameUrl(url).toLowerCase();
  if (/\.(txt|list|shards)$/.test(name)) {
    // A list file: its entries tell the format.
    const text = new TextDecoder().decode(await source.read(url, { signal }));
    const first = text.split(/\r?\n/).find((l) => l.trim() !== '' && !l.startsWith('#'));
    return (first && formatOfName(first.trim())) || 'table';
  }
  try {
    await source.size(joinUrl(url, 'index.json'), { signal });
    return 'mds';
  } catch {
    // no index.json: a directory of files or an unrecognized file
  }
  // A local path that does not exist fails here with STREAMS_NOT_FOUND instead of later and vaguer.
  if (!isRemoteUrl(url)) await source.size(url, { signal });
  try {
    const entries = await source.list(url, { signal });
    const counts = new Map<DatasetFormat, number>();
    for (const e of entries) {
      const f = formatOfName(e);
      if (f && f !== 'mds') counts.set(f, (counts.get(f) ?? 0) + 1);
    }
    // A directory of shards of one format; otherwise a directory scanned into an index.
    if (counts.size === 1 && !counts.has('table')) return [...counts.keys()][0] as DatasetFormat;
  } catch {
    // not a directory
  }
  return 'table';
}

function formatOfName(url: string): DatasetFormat | undefined {
  const name = basenameUrl(url).toLowerCase();
  if (name === 'index.json') return 'mds';
  if (/\.(tar|tar\.gz|tgz)$/.test(name) || /\{\d+\.\.\d+\}/.test(url)) return 'wds';
  if (/\.(jsonl|ndjson)(\.gz)?$/.test(name)) return 'jsonl';
  if (/\.(csv|tsv)(\.gz)?$/.test(name)) return 'csv';
  if (/\.(parquet|arrow|feather|ipc|json)$/.test(name)) return 'table';
  return undefined;
}

/** Opens any supported dataset: an MDS directory (index.json), WebDataset tars, JSONL/CSV shards or an index table. */
export async function openDataset(
  url: string,
  options: OpenDatasetOptions = {},
): Promise<SampleDataset> {
  const source = options.source ?? new RoutingByteSource();
  const owns = options.source === undefined;
  try {
    const format = options.format ?? (await detectFormat(url, source, options.signal));
    if (options.filter !== undefined && format !== 'table') {
      // Index tables filter while reading batches; other formats filter their samples here.
      const predicate =
        typeof options.filter === 'string' ? compileFilter(options.filter) : options.filter;
      const inner = await openDataset(url, { ...options, filter: undefined, format, source });
      return closing(filtered(inner, predicate), owns ? source : undefined);
    }
    switch (format) {
      case 'mds': {
        const dir = basenameUrl(url) === 'index.json' ? url.replace(/\/?index\.json$/, '') : url;
        const ds = await openMdsDataset(dir || '.', { ...options, source });
        return mdsAsSampleDataset(ds, owns ? source : undefined);
      }
      case 'wds':
        return closing(
          await openWebDataset(url, { ...options, source }),
          owns ? source : undefined,
        );
      case 'jsonl':
        return closing(
          await openJsonlDataset(url, { ...options, source }),
          owns ? source : undefined,
        );
      case 'csv':
        return closing(
          await openCsvDataset(url, { ...options, source }),
          owns ? source : undefined,
        );
      case 'table':
        return closing(
          await tableAsSampleDataset(
            await openIndexTable(url, {
              signal: options.signal,
              urlColumns: options.urlColumns,
              sizeColumn: options.sizeColumn,
              hashColumn: options.hashColumn,
              filter: options.filter,
              localCopy: options.localCopy,
              allowUrls: options.allowUrls,
              maxLineBytes: options.maxLineBytes,
              maxCellBytes: options.maxCellBytes,
              invalidUtf8: options.invalidUtf8,
              source,
            }),
          ),
          owns ? source : undefined,
        );
    }
  } catch (e) {
    if (owns) await source.close();
    throw e;
  }
}

/** Makes closing the dataset also close the byte source that was opened for it. */
function closing(ds: SampleDataset, source: ByteSource | undefined): SampleDataset {
  if (!source) return ds;
  const close = async () => {
    await ds.close();
    await source.close();
  };
  return Object.assign(Object.create(null), ds, {
    close,
    [Symbol.asyncDispose]: close,
    samples: ds.samples.bind(ds),
  }) as SampleDataset;
}

function mdsAsSampleDataset(ds: MdsDataset, owned: ByteSource | undefined): SampleDataset {
  const close = async () => {
    await ds.close();
    await owned?.close();
  };
  return {
    url: ds.url,
    format: 'mds',
    numSamples: ds.numSamples,
    numShards: ds.shards.length,
    columns: ds.columns.map((c) => ({ name: c.name, type: c.encoding })),
    totalBytes: ds.shards.reduce((a, s) => a + (s.zipBytes ?? s.rawBytes), 0),
    samples: (o) => ds.samples(o),
    close,
    [Symbol.asyncDispose]: close,
  };
}

async function tableAsSampleDataset(t: IndexTable): Promise<SampleDataset> {
  let totalBytes: number | undefined;
  if (t.sizeColumn) {
    totalBytes = 0;
    for await (const b of t.batches()) {
      const col = b.getChild(t.sizeColumn);
      for (let i = 0; i < b.numRows; i++) totalBytes += Number(col?.get(i) ?? 0);
    }
  }
  return {
    url: t.url,
    format: 'table',
    numSamples: t.numRows,
    numShards: t.files.length,
    urlColumns: t.urlColumns,
    columns: t.schema.fields.map((f) => ({ name: f.name, type: typeName(f.type) })),
    totalBytes,
    samples: (o) => t.rows(o),
    close: () => t.close(),
    [Symbol.asyncDispose]: () => t.close(),
  };
}

/** Keeps the samples matching `predicate`; `start`/`end` then count matching samples. */
function filtered(ds: SampleDataset, predicate: RowPredicate): SampleDataset {
  return Object.assign(Object.create(null), ds, {
    numSamples: undefined,
    async *samples(o: { start?: number; end?: number; signal?: AbortSignal } = {}) {
      const start = o.start ?? 0;
      const end = o.end ?? Number.POSITIVE_INFINITY;
      let i = 0;
      if (start >= end) return;
      for await (const s of ds.samples({ signal: o.signal })) {
        if (!predicate(s)) continue;
        if (i >= start) yield s;
        i++;
        if (i >= end) return;
      }
    },
    close: () => ds.close(),
    [Symbol.asyncDispose]: () => ds.close(),
  }) as SampleDataset;
}
