// What an index table is and how it is opened (types, options, format names): no Apache Arrow at
// run time, so modules that only name tables (format detection, the dataset registry) load none.
import type { RecordBatch, Schema, Table } from 'apache-arrow';
import type { ByteSource } from '../byteSource.js';
import type { TextOptions } from '../chunkReader.js';
import type { RowPredicate } from '../rowFilter.js';
import { basenameUrl } from '../urls.js';

/** File formats an index table can be read from. */
export type TableFormat = 'parquet' | 'arrow' | 'csv' | 'tsv' | 'json' | 'jsonl' | 'list' | 'dir';

/** Options of {@link openIndexTable}; the text bounds and UTF-8 policy apply to CSV and JSONL files. */
export interface IndexTableOptions extends TextOptions {
  signal?: AbortSignal;
  source?: ByteSource;
  /** Force a format instead of detecting it from file names. */
  format?: TableFormat;
  /**
   * Columns holding URLs or paths of the bytes to download (relative ones are resolved against the
   * index's location). Default: columns named url, path, file, filename, filepath, uri, location,
   * or ending in `_url`/`_path`/`_uri`; for directory scans and list files, the file columns.
   * Pass `[]` for a metadata-only dataset.
   */
  urlColumns?: readonly string[];
  /** Column with the expected byte size of the URL column's object (default: size, bytes, nbytes, file_size if present). */
  sizeColumn?: string;
  /** Column with an expected digest (default: sha256, sha1, md5, hash, checksum if present). */
  hashColumn?: string;
  /**
   * Local prefixes (e.g. `file:///data/images/`) that URL columns of a remote index may name. An
   * index read from a remote location may name remote URLs only, so it cannot make a reader open
   * local files (`STREAMS_UNSAFE_PATH`); a local index may name anything.
   */
  allowUrls?: readonly string[];
  /** Keep rows matching this expression (`label == 3 and score > 0.5`) or predicate. */
  filter?: string | RowPredicate;
  /**
   * Rows per unit (and record batch) for files without row groups of their own (default 65,536);
   * Parquet files keep their row groups, Arrow files their record batches.
   */
  batchSize?: number;
  /**
   * Bytes of CSV/JSONL rows parsed at open kept as Arrow batches (default 256 MiB), so reading them
   * needs no second parse; chunks past it are read from the file again when loaded.
   */
  heldBytes?: number;
  /**
   * Save a node-local Arrow IPC copy (in this directory, or `$STREAMS_CACHE_DIR/index` when true)
   * and reuse it on later opens of the same source (same URL, sizes and filter).
   */
  localCopy?: boolean | string;
}

/** A unit of an index table: a chunk of rows of one file (a Parquet row group, an Arrow record batch, or a fixed row count). */
export interface TableUnit {
  /** The file the rows come from. */
  file: string;
  /** Rows (after the filter) and the row number of the first one in the table. */
  rows: number;
  firstRow: number;
  /** Row numbers of the chunk in its file, before the filter: `[start, end)`. */
  fileRows: [number, number];
}

/** An index: one sample per row, held as Apache Arrow record batches read lazily. */
export interface IndexTable extends AsyncDisposable {
  readonly url: string;
  /** The files the rows come from, in order. */
  readonly files: readonly string[];
  /** Rows (after the filter). */
  readonly numRows: number;
  /** Union of the files' columns; a column missing from a file reads as null there. */
  readonly schema: Schema;
  readonly urlColumns: readonly string[];
  readonly metadataColumns: readonly string[];
  readonly sizeColumn: string | undefined;
  readonly hashColumn: string | undefined;
  /** Where the rows were read from on this open: the sources or the local IPC copy. */
  readonly servedFrom: 'source' | 'localCopy';
  /** The table's chunks of rows, in order: each loadable on its own (`loadUnit`). */
  readonly units: readonly TableUnit[];
  /** Unit k's rows as a record batch with the unified schema, filtered. */
  loadUnit(k: number, options?: { signal?: AbortSignal }): Promise<RecordBatch>;
  /** Record batches with the unified schema, filtered, in order; one batch in memory at a time. */
  batches(options?: { signal?: AbortSignal }): AsyncGenerator<RecordBatch>;
  /** Rows as plain objects with URL columns resolved to absolute URLs or paths. */
  rows(options?: {
    start?: number;
    end?: number;
    signal?: AbortSignal;
  }): AsyncGenerator<Record<string, unknown>>;
  /** Row i of a batch as a plain object, URL columns resolved (`where` names it in errors). */
  rowOf(batch: RecordBatch, i: number, where?: string): Record<string, unknown>;
  /** Resolves a URL column value against the index location. */
  resolveUrl(value: string): string;
  /** The whole index in memory. */
  toTable(options?: { signal?: AbortSignal }): Promise<Table>;
  /** Writes the (filtered) index as an Arrow IPC file. */
  saveIpc(path: string, options?: { signal?: AbortSignal }): Promise<void>;
  close(): Promise<void>;
}

/** Names of columns that hold URLs or paths of bytes to fetch, unless the user says otherwise. */
export const URL_COLUMN_NAMES =
  /^(url|path|file|filename|filepath|file_path|uri|location|src)$|(_url|_path|_uri)$/i;

/** The table format of a file name, if it has one. */
export function tableFormatOf(url: string): TableFormat | undefined {
  const n = basenameUrl(url).toLowerCase().replace(/\.gz$/, '');
  if (n.endsWith('.parquet')) return 'parquet';
  if (/\.(arrow|feather|ipc)$/.test(n)) return 'arrow';
  if (n.endsWith('.csv')) return 'csv';
  if (n.endsWith('.tsv')) return 'tsv';
  if (/\.(jsonl|ndjson)$/.test(n)) return 'jsonl';
  if (n.endsWith('.json')) return 'json';
  if (/\.(txt|list)$/.test(n)) return 'list';
  return undefined;
}
