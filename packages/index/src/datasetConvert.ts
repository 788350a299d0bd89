import { type EventHub, parseBytes, StreamsError, throwIfAborted } from '@streams/core';
import type { ByteSource } from './byteSource.js';
import { type OpenDatasetOptions, openDataset } from './dataset.js';
import type { SampleDataset } from './formats/sampleDataset.js';
import { URL_COLUMN_NAMES } from './indexTable.js';
import { MdsWriter } from './mdsWriter.js';
import { RoutingByteSource } from './routingByteSource.js';
import { setField } from './sampleJson.js';
import { basenameUrl } from './urls.js';
import { WdsWriter } from './wdsWriter.js';

/** Progress of {@link convertDataset}. */
export interface ConvertProgress {
  samples: number;
  /** Samples expected, when the source knows. */
  total: number | undefined;
  /** Shard bytes written so far (MDS; estimated for WebDataset). */
  bytes: number;
}

/** Options of {@link convertDataset}. */
export interface ConvertOptions {
  /** Output directory. */
  out: string;
  format: 'mds' | 'wds';
  /** MDS: gz, bz2, zstd, br, snappy (with an optional level); WebDataset: gz. */
  compression?: string | null;
  /** MDS: hash algorithms recorded in index.json. */
  hashes?: readonly string[];
  /** Shard size limit (`"64mb"`: MosaicML units, powers of 1024). */
  sizeLimit?: number | string;
  /** MDS encodings to use instead of the inferred ones, per column (`{ label: 'int32', image: 'jpeg' }`). */
  encodings?: Record<string, string>;
  /**
   * Options for opening the source (format, filter...). Without a format, a CSV/JSONL file with URL
   * columns (`url`, `path`, `*_url`...) is read as an index table: its files are fetched and stored.
   */
  open?: OpenDatasetOptions;
  overwrite?: boolean;
  /** Rows whose URL columns are fetched at once (default 16). */
  fetchConcurrency?: number;
  onProgress?: (p: ConvertProgress) => void;
  /** Receives `progress` events: `convert.progress` every 256 samples and `mds.shard` per MDS shard. */
  events?: EventHub;
  signal?: AbortSignal;
  source?: ByteSource;
}

/** What {@link convertDataset} wrote. */
export interface ConvertResult {
  samples: number;
  shards: number;
  columns: Record<string, string>;
}

const IMAGE_EXT: Record<string, string> = { jpg: 'jpeg', jpeg: 'jpeg', png: 'png' };

/** The MDS encoding that round-trips the values seen in a column. */
export function inferMdsEncoding(values: readonly unknown[], column: string): string {
  let enc: string | undefined;
  let sawNull = false;
  for (const v of values) {
    let e: string;
    if (v === null || v === undefined) {
      sawNull = true;
      continue;
    }
    if (typeof v === 'string') e = 'str';
    else if (typeof v === 'bigint') e = 'int';
    else if (typeof v === 'number') e = Number.isInteger(v) ? 'int' : 'float64';
    else if (v instanceof Uint8Array) e = 'bytes';
    else if (typeof v === 'object' && 'format' in v && (v.format === 'jpeg' || v.format === 'png'))
      e = v.format;
    else if (typeof v === 'object' && 'format' in v && v.format === 'pil') e = 'pil';
    else if (typeof v === 'object' && 'dtype' in v && 'shape' in v && 'data' in v) e = 'ndarray';
    else e = 'json';
    if (enc === undefined || enc === e) enc = e;
    else if ((enc === 'int' && e === 'float64') || (enc === 'float64' && e === 'int'))
      enc = 'float64';
    else enc = 'json';
  }
  if (enc === undefined) return 'json';
  // MDS has no nulls: a column with nulls is stored as JSON (null stays null).
  if (sawNull && !['json'].includes(enc)) {
    if (enc === 'str' || enc === 'int' || enc === 'float64') return 'json';
    throw new StreamsError(
      'STREAMS_INVALID_ARGUMENT',
      `[streams/index] column "${column}" holds ${enc} values and nulls, which MDS cannot store`,
      { fix: `fill the nulls, or leave the column out` },
    );
  }
  return enc;
}

/** The columns of a text dataset's first sample (CSV and JSONL know their columns only from rows). */
async function firstKeys(ds: SampleDataset, signal?: AbortSignal): Promise<string[]> {
  for await (const sample of ds.samples({ end: 1, signal })) return Object.keys(sample);
  return [];
}

/**
 * Converts any dataset `openDataset` reads (MDS, WebDataset, JSONL/CSV, index tables) into MDS or
 * WebDataset shards. The bytes of index URL columns are fetched and stored in the shards.
 */
export async function convertDataset(
  src: string | SampleDataset,
  options: ConvertOptions,
): Promise<ConvertResult> {
  const source = options.source ?? new RoutingByteSource();
  const ownsSource = options.source === undefined;
  let ds =
    typeof src === 'string'
      ? await openDataset(src, { ...options.open, signal: options.signal, source })
      : src;
  // A CSV/JSONL file whose columns name files (url, path, image_url...) is an index: converting it
  // stores the files, as for Parquet indexes. `open.format: 'csv'`/`'jsonl'` keeps the cells as text.
  if (
    typeof src === 'string' &&
    options.open?.format === undefined &&
    (ds.format === 'csv' || ds.format === 'jsonl') &&
    (await firstKeys(ds, options.signal)).some((c) => URL_COLUMN_NAMES.test(c))
  ) {
    await ds.close();
    ds = await openDataset(src, {
      ...options.open,
      format: 'table',
      signal: options.signal,
      source,
    });
  }
  try {
    const fetchCols = new Set(ds.urlColumns ?? []);
    const total = ds.numSamples;
    const fetchRow = async (row: Record<string, unknown>) => {
      if (fetchCols.size === 0) return row;
      const out: Record<string, unknown> = { ...row };
      for (const c of fetchCols) {
        const u = row[c];
        if (typeof u === 'string' && u !== '')
          setField(out, c, await source.read(u, { signal: options.signal }));
      }
      return out;
    };
    const it = ds.samples({ signal: options.signal })[Symbol.asyncIterator]();
    // Look ahead to infer column encodings.
    const head: Record<string, unknown>[] = [];
    for (let i = 0; i < 256; i++) {
      const r = await it.next();
      if (r.done) break;
      head.push(r.value);
    }
    const names: string[] = [];
    for (const r of head)
      for (const k of Object.keys(r)) if (!names.includes(k) && k !== '__url__') names.push(k);
    const columns: Record<string, string> = {};
    // An MDS source already says how each column is encoded: keep it rather than guess from values.
    const sourceEncodings = new Map(
      ds.format === 'mds' ? ds.columns.map((c) => [c.name, c.type] as const) : [],
    );
    for (const n of names) {
      if (options.encodings?.[n]) columns[n] = options.encodings[n] as string;
      else if (sourceEncodings.has(n)) columns[n] = sourceEncodings.get(n) as string;
      else if (fetchCols.has(n)) {
        const first = head.find((r) => typeof r[n] === 'string')?.[n] as string | undefined;
        const ext = first ? (basenameUrl(first).split('.').pop() ?? '').toLowerCase() : '';
        columns[n] = IMAGE_EXT[ext] ?? 'bytes';
      } else {
        columns[n] = inferMdsEncoding(
          head.map((r) => r[n]),
          n,
        );
        // WebDataset image members arrive as bytes: keep their image encoding.
        const img = IMAGE_EXT[n.split('.').pop() ?? ''];
        if (columns[n] === 'bytes' && img) columns[n] = img;
      }
    }
    let bytes = 0;
    let samples = 0;
    let shards = 0;
    const report = () => {
      options.onProgress?.({ samples, total, bytes });
      options.events?.emit({
        kind: 'progress',
        name: 'convert.progress',
        bytes,
        counters: { samples, shards, ...(total === undefined ? {} : { total }) },
      });
    };
    let write: (s: Record<string, unknown>) => Promise<void>;
    let finish: () => Promise<void>;
    if (options.format === 'mds') {
      const w = new MdsWriter({
        out: options.out,
        columns,
        compression: options.compression ?? null,
        hashes: options.hashes,
        sizeLimit: options.sizeLimit,
        overwrite: options.overwrite,
        signal: options.signal,
        events: options.events,
        onShard: (e) => {
          bytes += e.zip_data?.bytes ?? e.raw_data.bytes;
          shards++;
        },
      });
      write = (s) => {
        const sample: Record<string, unknown> = {};
        for (const n of names) setField(sample, n, s[n] ?? null);
        return w.write(sample);
      };
      finish = async () => {
        await w.finish();
      };
    } else {
      if (options.compression && options.compression !== 'gz')
        throw new StreamsError(
          'STREAMS_UNSUPPORTED_ENCODING',
          `[streams/index] WebDataset shards support gz compression only`,
          {
            fix: 'use --compression gz or none for --format wds',
          },
        );
      const w = new WdsWriter({
        out: options.out,
        compression: options.compression === 'gz' ? 'gz' : null,
        maxShardBytes:
          options.sizeLimit === undefined ? undefined : parseBytes(options.sizeLimit, 'sizeLimit'),
        overwrite: options.overwrite,
        signal: options.signal,
      });
      write = async (s) => {
        await w.write(s);
      };
      finish = async () => {
        shards = (await w.finish()).length;
      };
    }
    // Fetches of URL columns overlap (up to `fetchConcurrency` rows ahead); writes stay in order.
    const window: Promise<Record<string, unknown>>[] = [];
    const depth = fetchCols.size > 0 ? Math.max(1, options.fetchConcurrency ?? 16) : 1;
    const writeNext = async () => {
      await write(await (window.shift() as Promise<Record<string, unknown>>));
      samples++;
      if (samples % 256 === 0) report();
    };
    const one = async (row: Record<string, unknown>) => {
      throwIfAborted(options.signal);
      const p = fetchRow(row);
      p.catch(() => undefined); // awaited in order below; this only silences early rejections
      window.push(p);
      if (window.length >= depth) await writeNext();
    };
    for (const r of head) await one(r);
    for (;;) {
      const r = await it.next();
      if (r.done) break;
      await one(r.value);
    }
    while (window.length > 0) await writeNext();
    await finish();
    report();
    return { samples, shards, columns };
  } finally {
    if (typeof src === 'string') await ds.close();
    if (ownsSource) await source.close();
  }
}
