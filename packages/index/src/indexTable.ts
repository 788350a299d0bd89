import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StreamsError, settings, throwIfAborted } from '@streams/core';
import {
  type DataType,
  Field,
  makeData,
  RecordBatch,
  RecordBatchFileWriter,
  RecordBatchReader,
  Schema,
  Struct,
  Table,
  Utf8,
  type Vector,
} from 'apache-arrow';
import { inferArrowType, plainValue, toArrowVector, typeName } from './arrowConvert.js';
import {
  type ByteSource,
  basenameUrl,
  checkNamedUrl,
  dirnameUrl,
  isRemoteUrl,
  joinUrl,
  RoutingByteSource,
  toLocalPath,
} from './byteSource.js';
import type { TextOptions } from './chunkReader.js';
import { type CsvType, convertCsvCell, parseCsv, widenCsvType } from './csv.js';
import { compileFilter, type RowPredicate } from './rowFilter.js';
import { setField } from './sampleJson.js';
import { expandBraces, globToRegExp } from './shardList.js';
import { chunksOf, jsonlRecords } from './textShards.js';

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
  /** Rows per record batch for formats without their own batching (default 65,536). */
  batchSize?: number;
  /**
   * Save a node-local Arrow IPC copy (in this directory, or `$STREAMS_CACHE_DIR/index` when true)
   * and reuse it on later opens of the same source (same URL, sizes and filter).
   */
  localCopy?: boolean | string;
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
  /** Record batches with the unified schema, filtered, in order; one batch in memory at a time. */
  batches(options?: { signal?: AbortSignal }): AsyncGenerator<RecordBatch>;
  /** Rows as plain objects with URL columns resolved to absolute URLs or paths. */
  rows(options?: {
    start?: number;
    end?: number;
    signal?: AbortSignal;
  }): AsyncGenerator<Record<string, unknown>>;
  /** Resolves a URL column value against the index location. */
  resolveUrl(value: string): string;
  /** The whole index in memory. */
  toTable(options?: { signal?: AbortSignal }): Promise<Table>;
  /** Writes the (filtered) index as an Arrow IPC file. */
  saveIpc(path: string, options?: { signal?: AbortSignal }): Promise<void>;
  close(): Promise<void>;
}

const URL_NAMES =
  /^(url|path|file|filename|filepath|file_path|uri|location|src)$|(_url|_path|_uri)$/i;
const SIZE_NAMES = ['size', 'bytes', 'nbytes', 'file_size', 'size_bytes'];
const HASH_NAMES = ['sha256', 'sha1', 'md5', 'xxh64', 'hash', 'checksum'];

function formatOf(url: string): TableFormat | undefined {
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

function invalid(message: string, url: string, cause?: unknown, fix?: string): StreamsError {
  return new StreamsError('STREAMS_INDEX_INVALID', `[streams/index] ${message}`, {
    url,
    cause,
    fix: fix ?? 'check the index file',
  });
}

/** One file of an index, readable in record batches. */
interface TablePart {
  url: string;
  /** Columns and types of this file. */
  fields: Field[];
  numRows: number;
  batches(signal?: AbortSignal): AsyncGenerator<RecordBatch>;
}

/**
 * Opens an index table: CSV/TSV, JSON/JSONL, Parquet or Arrow IPC files, wildcards and brace patterns of
 * them, directories (scanned, files grouped by basename) and list files (one path or URL a line).
 *
 * ```ts
 * await using index = await openIndexTable('meta/*.parquet', { filter: 'aes_score > 4' });
 * for await (const row of index.rows()) console.log(row.url);
 * ```
 */
export async function openIndexTable(
  spec: string,
  options: IndexTableOptions = {},
): Promise<IndexTable> {
  const source = options.source ?? new RoutingByteSource();
  const owns = options.source === undefined;
  try {
    const { files, format, base } = await resolveTableFiles(spec, source, options);
    const filter =
      typeof options.filter === 'string' ? compileFilter(options.filter) : options.filter;
    const copyDir =
      options.localCopy === true
        ? join(settings().cacheDir, 'index')
        : typeof options.localCopy === 'string'
          ? toLocalPath(options.localCopy)
          : undefined;
    let copyKey: string | undefined;
    if (copyDir) {
      const sizes = await Promise.all(
        files.map((f) => (format === 'dir' || format === 'list' ? 0 : source.size(f, options))),
      );
      copyKey = createHash('sha1')
        .update(JSON.stringify([spec, files, sizes, String(options.filter ?? '')]))
        .digest('hex');
      const cached = await openLocalCopy(copyDir, copyKey);
      if (cached)
        return makeTable(
          spec,
          base,
          files,
          [cached],
          undefined,
          options,
          source,
          owns,
          'localCopy',
        );
    }
    const parts = await openParts(files, format, base, source, options);
    const table = await makeTable(
      spec,
      base,
      files,
      parts,
      filter,
      options,
      source,
      owns,
      'source',
    );
    if (copyDir && copyKey) {
      await mkdir(copyDir, { recursive: true });
      const path = join(copyDir, `${copyKey}.arrow`);
      await table.saveIpc(path, options);
      await writeFile(
        join(copyDir, `${copyKey}.json`),
        JSON.stringify({ source: spec, numRows: table.numRows }),
      );
    }
    return table;
  } catch (e) {
    if (owns) await source.close();
    throw e;
  }
}

async function resolveTableFiles(
  spec: string,
  source: ByteSource,
  options: IndexTableOptions,
): Promise<{ files: string[]; format: TableFormat; base: string }> {
  const signal = options.signal;
  let files: string[];
  if (/\{[^{}]*\}/.test(spec)) files = expandBraces(spec);
  else {
    const name = basenameUrl(spec);
    if (name.includes('*') || name.includes('?')) {
      const re = globToRegExp(name);
      files = (await source.list(dirnameUrl(spec), { signal })).filter((u) =>
        re.test(basenameUrl(u)),
      );
      if (files.length === 0)
        throw new StreamsError('STREAMS_NOT_FOUND', `[streams/index] no file matches ${spec}`, {
          url: spec,
          fix: 'check the pattern and the directory',
        });
    } else files = [spec];
  }
  const single = files.length === 1 ? (files[0] as string) : undefined;
  if (options.format === 'dir' || (single && !options.format && !formatOf(single))) {
    // No table extension: a directory of index files of one format, else a directory to scan.
    const url = single ?? spec;
    if (!isRemoteUrl(url)) await source.size(url, { signal });
    if (options.format !== 'dir') {
      const entries = (await source.list(url, { signal }).catch(() => [] as string[])).filter(
        (u) => !basenameUrl(u).startsWith('.'),
      );
      const formats = new Set(entries.map((u) => formatOf(u)));
      const only = [...formats][0];
      if (entries.length > 0 && formats.size === 1 && only && only !== 'list')
        return { files: entries, format: only, base: url };
    }
    return { files: [url], format: 'dir', base: url };
  }
  const format = options.format ?? formatOf(files[0] as string);
  if (!format)
    throw invalid(
      `cannot tell the format of ${files[0]}`,
      spec,
      undefined,
      'use .parquet, .arrow, .csv, .tsv, .json, .jsonl or .txt, or pass format',
    );
  for (const f of files) {
    const ff = options.format ?? formatOf(f);
    if (ff !== format)
      throw new StreamsError(
        'STREAMS_SCHEMA_MISMATCH',
        `[streams/index] ${basenameUrl(f)} is ${ff ?? 'unknown'}, the first file is ${format}`,
        { url: f, fix: 'use one file format per index' },
      );
  }
  return { files, format, base: dirnameUrl(files[0] as string) };
}

async function openParts(
  files: string[],
  format: TableFormat,
  base: string,
  source: ByteSource,
  options: IndexTableOptions,
): Promise<TablePart[]> {
  const batchSize = options.batchSize ?? 65_536;
  const parts: TablePart[] = [];
  for (const url of files) {
    throwIfAborted(options.signal);
    switch (format) {
      case 'parquet':
        parts.push(await parquetPart(url, source, options.signal));
        break;
      case 'arrow':
        parts.push(await arrowPart(url, source, options.signal));
        break;
      case 'csv':
      case 'tsv':
        parts.push(
          await csvPart(
            url,
            source,
            { ...options, delimiter: format === 'tsv' ? '\t' : ',' },
            batchSize,
          ),
        );
        break;
      case 'jsonl':
        parts.push(
          await rowsPart(
            url,
            () => jsonlRecords(chunksOf(source, url, options.signal), url, options),
            batchSize,
          ),
        );
        break;
      case 'json':
        parts.push(await jsonPart(url, source, batchSize, options.signal));
        break;
      case 'list':
        parts.push(await listPart(url, source, batchSize, options.signal));
        break;
      case 'dir':
        parts.push(await dirPart(url, base, source, batchSize, options.signal));
        break;
    }
  }
  return parts;
}

function batchOf(fields: Field[], columns: Vector[], numRows: number): RecordBatch {
  const schema = new Schema(fields);
  const data = makeData({
    type: new Struct(fields),
    length: numRows,
    nullCount: 0,
    children: columns.map((c) => c.data[0] ?? makeData({ type: c.type, length: 0 })),
  });
  return new RecordBatch(schema, data);
}

// ---------- Parquet (hyparquet): metadata at open, one row group per batch ----------

async function parquetPart(
  url: string,
  source: ByteSource,
  signal?: AbortSignal,
): Promise<TablePart> {
  const hp = await import('hyparquet');
  const size = await source.size(url, { signal });
  const file = {
    byteLength: size,
    slice: async (start: number, end?: number) => {
      const bytes = await source.readRange(url, start, end ?? size, { signal });
      return bytes.buffer.slice(
        bytes.byteOffset,
        bytes.byteOffset + bytes.byteLength,
      ) as ArrayBuffer;
    },
  };
  let metadata: Awaited<ReturnType<typeof hp.parquetMetadataAsync>>;
  try {
    metadata = await hp.parquetMetadataAsync(file);
  } catch (cause) {
    throw invalid(
      `${basenameUrl(url)} is not a valid Parquet file: ${(cause as Error)?.message}`,
      url,
      cause,
      'rewrite the Parquet file',
    );
  }
  const leaves = metadata.schema.slice(1);
  const columns = leaves.filter((s) => !s.num_children).map((s) => s.name);
  const groups: [number, number][] = [];
  let start = 0;
  const badFooter = (why: string) =>
    invalid(
      `${basenameUrl(url)} has a damaged Parquet footer: ${why}`,
      url,
      undefined,
      'rewrite the Parquet file',
    );
  for (const rg of metadata.row_groups) {
    const n = Number(rg.num_rows);
    if (!Number.isSafeInteger(n) || n < 0) throw badFooter(`a row group of ${rg.num_rows} rows`);
    groups.push([start, start + n]);
    start += n;
  }
  const numRows = Number(metadata.num_rows);
  if (numRows !== start) throw badFooter(`${numRows} rows, its row groups hold ${start}`);
  // Types come from the first row group's values, then are fixed for the file.
  let fields: Field[] | undefined;
  // hyparquet's built-in snappy is the fastest for the common case; the others come from hyparquet-compressors.
  const { SNAPPY: _snappy, ...others } = (await import('hyparquet-compressors')).compressors;
  const compressors = others as Parameters<typeof hp.parquetRead>[0]['compressors'];
  // The first row group is read at open to type the columns; the first scan reuses it once.
  let firstGroup: Map<string, ArrayLike<unknown>> | undefined;
  const readGroup = async ([a, b]: [number, number]) => {
    const cols = new Map<string, ArrayLike<unknown>>();
    try {
      await hp.parquetRead({
        file,
        metadata,
        rowStart: a,
        rowEnd: b,
        compressors,
        onChunk: (chunk) => {
          if (!columns.includes(chunk.columnName)) return;
          // Usually one chunk covers the row group exactly: use its array as is.
          if (chunk.rowStart === a && chunk.rowEnd === b && !cols.has(chunk.columnName)) {
            cols.set(chunk.columnName, chunk.columnData as ArrayLike<unknown>);
            return;
          }
          let target = cols.get(chunk.columnName) as unknown[] | undefined;
          if (!target || !Array.isArray(target)) {
            const prev = target;
            target = new Array(b - a).fill(null);
            if (prev) for (let r = 0; r < b - a; r++) target[r] = (prev as ArrayLike<unknown>)[r];
            cols.set(chunk.columnName, target);
          }
          const from = Math.max(a, chunk.rowStart);
          const to = Math.min(b, chunk.rowEnd);
          for (let r = from; r < to; r++) target[r - a] = chunk.columnData[r - chunk.rowStart];
        },
      });
    } catch (cause) {
      throw invalid(
        `cannot read ${basenameUrl(url)} rows ${a}..${b}: ${(cause as Error)?.message}`,
        url,
        cause,
        'rewrite the Parquet file',
      );
    }
    return cols;
  };
  if (groups.length > 0) {
    const first = await readGroup(groups[0] as [number, number]);
    fields = columns.map((c) => new Field(c, inferArrowType(first.get(c) ?? []), true));
    firstGroup = first;
  } else fields = columns.map((c) => new Field(c, new Utf8(), true));
  const fixed = fields;
  return {
    url,
    fields: fixed,
    numRows,
    async *batches(sig) {
      for (const g of groups) {
        throwIfAborted(sig ?? signal);
        let cols: Map<string, ArrayLike<unknown>>;
        if (g === groups[0] && firstGroup) {
          cols = firstGroup;
          firstGroup = undefined;
        } else cols = await readGroup(g);
        let batch: RecordBatch;
        try {
          const vectors = fixed.map((f) =>
            convertColumn(cols.get(f.name) ?? new Array(g[1] - g[0]).fill(null), f, url),
          );
          batch = batchOf(fixed, vectors, g[1] - g[0]);
        } catch (cause) {
          if (cause instanceof StreamsError) throw cause;
          throw invalid(
            `cannot read ${basenameUrl(url)} rows ${g[0]}..${g[1]}: ${(cause as Error)?.message}`,
            url,
            cause,
            'rewrite the Parquet file',
          );
        }
        yield batch;
      }
    },
  };
}

function convertColumn(values: ArrayLike<unknown>, f: Field, url: string): Vector {
  try {
    return toArrowVector(values, f.type);
  } catch (cause) {
    if (cause instanceof StreamsError) throw cause;
    throw new StreamsError(
      'STREAMS_SCHEMA_MISMATCH',
      `[streams/index] column "${f.name}" of ${basenameUrl(url)} changes type (expected ${typeName(f.type)})`,
      { url, cause, fix: 'give the column one type throughout the file' },
    );
  }
}

// ---------- Arrow IPC ----------

async function arrowPart(
  url: string,
  source: ByteSource,
  signal?: AbortSignal,
): Promise<TablePart> {
  const open = async () => {
    try {
      if (!isRemoteUrl(url)) {
        const fh = await openFileHandle(url);
        const reader = await RecordBatchReader.from(fh);
        return { reader: await reader.open(), close: () => fh.close() };
      }
      const reader = RecordBatchReader.from(await source.read(url, { signal }));
      return { reader: reader.open(), close: async () => undefined };
    } catch (cause) {
      if (cause instanceof StreamsError) throw cause;
      throw invalid(
        `${basenameUrl(url)} is not an Arrow IPC file: ${(cause as Error)?.message}`,
        url,
        cause,
        'rewrite the Arrow file',
      );
    }
  };
  // Count rows once (batches are read and dropped, so memory stays at one batch).
  const first = await open();
  let numRows = 0;
  let fields: Field[];
  try {
    fields = [...first.reader.schema.fields];
    for await (const b of first.reader as AsyncIterable<RecordBatch>) numRows += b.numRows;
  } catch (cause) {
    throw invalid(
      `${basenameUrl(url)} is a damaged Arrow IPC file: ${(cause as Error)?.message}`,
      url,
      cause,
      'rewrite the Arrow file',
    );
  } finally {
    await first.close();
  }
  return {
    url,
    fields,
    numRows,
    async *batches(sig) {
      const r = await open();
      try {
        for await (const b of r.reader as AsyncIterable<RecordBatch>) {
          throwIfAborted(sig ?? signal);
          yield b;
        }
      } finally {
        await r.close();
      }
    },
  };
}

async function openFileHandle(url: string) {
  try {
    return await open(toLocalPath(url), 'r');
  } catch (cause) {
    throw new StreamsError('STREAMS_NOT_FOUND', `[streams/index] ${url} does not exist`, {
      url,
      cause,
      fix: 'check the path',
    });
  }
}

// ---------- Row-oriented formats: a typing pass, then batches ----------

/** Builds a part from a re-readable stream of row objects: pass 1 types columns, pass 2 yields batches. */
async function rowsPart(
  url: string,
  rows: () => AsyncIterable<Record<string, unknown>>,
  batchSize: number,
  fixedTypes?: Map<string, DataType>,
): Promise<TablePart> {
  const names: string[] = [];
  const seen = new Set<string>();
  const typeBuf = new Map<string, unknown[]>();
  const typeSeen = new Map<string, Set<string>>();
  let numRows = 0;
  for await (const row of rows()) {
    for (const k of Object.keys(row)) {
      if (!seen.has(k)) {
        seen.add(k);
        names.push(k);
        typeBuf.set(k, []);
        typeSeen.set(k, new Set());
      }
      const v = row[k];
      if (v === null || v === undefined || fixedTypes?.has(k)) continue;
      // Keep a bounded, representative sample of values per column for typing: numbers until 4096
      // (their size picks the integer width), and one value of each other JS type (one string
      // types a column as text, whatever its length: cells may be megabytes).
      const kinds = typeSeen.get(k) as Set<string>;
      const buf = typeBuf.get(k) as unknown[];
      const kind = v instanceof Uint8Array ? 'bytes' : v instanceof Date ? 'date' : typeof v;
      if (!kinds.has(kind) || ((kind === 'number' || kind === 'bigint') && buf.length < 4096)) {
        kinds.add(kind);
        buf.push(v);
      }
    }
    numRows++;
  }
  const fields = names.map(
    (n) => new Field(n, fixedTypes?.get(n) ?? inferArrowType(typeBuf.get(n) ?? []), true),
  );
  return {
    url,
    fields,
    numRows,
    async *batches(signal) {
      let cols: unknown[][] = fields.map(() => []);
      let n = 0;
      const flush = () => {
        const vectors = fields.map((f, k) => convertColumn(cols[k] as unknown[], f, url));
        const b = batchOf(fields, vectors, n);
        cols = fields.map(() => []);
        n = 0;
        return b;
      };
      for await (const row of rows()) {
        for (let k = 0; k < fields.length; k++)
          (cols[k] as unknown[]).push(row[(fields[k] as Field).name] ?? null);
        n++;
        if (n >= batchSize) {
          throwIfAborted(signal);
          yield flush();
        }
      }
      if (n > 0) yield flush();
    },
  };
}

async function csvPart(
  url: string,
  source: ByteSource,
  options: TextOptions & { delimiter: string; signal?: AbortSignal },
  batchSize: number,
): Promise<TablePart> {
  const { signal } = options;
  const csv = { ...options, url };
  // Pass 1: header and column types over the whole file (so a late "abc" in an int column is seen).
  let header: string[] | undefined;
  let types: (CsvType | undefined)[] = [];
  for await (const { row, line } of parseCsv(chunksOf(source, url, signal), csv)) {
    if (!header) {
      header = row;
      const dup = row.find((h, i) => row.indexOf(h) !== i);
      if (dup !== undefined)
        throw invalid(`CSV header of ${basenameUrl(url)} repeats column "${dup}"`, url);
      types = row.map(() => undefined);
      continue;
    }
    if (row.length !== header.length)
      throw invalid(
        `${basenameUrl(url)} line ${line} has ${row.length} fields, the header has ${header.length}`,
        url,
        undefined,
        'give every row as many fields as the header (quote fields holding the delimiter)',
      );
    for (let k = 0; k < row.length; k++) types[k] = widenCsvType(types[k], row[k] as string);
  }
  if (!header) throw invalid(`${basenameUrl(url)} is empty (no header row)`, url);
  const h = header;
  const rows = async function* () {
    let first = true;
    for await (const { row } of parseCsv(chunksOf(source, url, signal), csv)) {
      if (first) {
        first = false;
        continue;
      }
      const o: Record<string, unknown> = {};
      for (let k = 0; k < h.length; k++)
        setField(o, h[k] as string, convertCsvCell(types[k] ?? 'string', row[k] ?? ''));
      yield o;
    }
  };
  const arrowTypes = new Map<string, DataType>();
  const { Int64, Float64, Bool } = await import('apache-arrow');
  h.forEach((name, k) => {
    const t = types[k];
    arrowTypes.set(
      name,
      t === 'int'
        ? new Int64()
        : t === 'float'
          ? new Float64()
          : t === 'bool'
            ? new Bool()
            : new Utf8(),
    );
  });
  const part = await rowsPart(url, rows, batchSize, arrowTypes);
  // Columns that are empty everywhere still belong to the schema.
  if (part.fields.length < h.length)
    part.fields = h.map((n) => new Field(n, arrowTypes.get(n) as DataType, true));
  return part;
}

async function jsonPart(
  url: string,
  source: ByteSource,
  batchSize: number,
  signal?: AbortSignal,
): Promise<TablePart> {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(await source.read(url, { signal })));
  } catch (cause) {
    if (cause instanceof StreamsError) throw cause;
    throw invalid(
      `${basenameUrl(url)} is not valid JSON`,
      url,
      cause,
      'give a JSON array of objects, or use JSONL',
    );
  }
  let rows: Record<string, unknown>[];
  if (Array.isArray(value)) rows = value as Record<string, unknown>[];
  else if (value && typeof value === 'object') {
    // A JSON object of equal-length column arrays.
    const cols = Object.entries(value as Record<string, unknown>);
    if (!cols.every(([, v]) => Array.isArray(v)))
      throw invalid(
        `${basenameUrl(url)} must be an array of objects or an object of column arrays`,
        url,
      );
    const n = Math.max(0, ...cols.map(([, v]) => (v as unknown[]).length));
    rows = Array.from({ length: n }, (_, i) =>
      Object.fromEntries(cols.map(([k, v]) => [k, (v as unknown[])[i] ?? null])),
    );
  } else
    throw invalid(
      `${basenameUrl(url)} must be an array of objects or an object of column arrays`,
      url,
    );
  rows.forEach((r, i) => {
    if (!r || typeof r !== 'object' || Array.isArray(r))
      throw invalid(`${basenameUrl(url)} element ${i} is not an object`, url);
  });
  return rowsPart(
    url,
    async function* () {
      yield* rows;
    },
    batchSize,
  );
}

async function listPart(
  url: string,
  source: ByteSource,
  batchSize: number,
  signal?: AbortSignal,
): Promise<TablePart> {
  const text = new TextDecoder().decode(await source.read(url, { signal }));
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  return rowsPart(
    url,
    async function* () {
      for (const l of lines) yield { __key__: keyOf(l), url: l };
    },
    batchSize,
  );
}

function keyOf(path: string): string {
  const name = basenameUrl(path);
  const dot = name.indexOf('.');
  return dot === -1 ? name : name.slice(0, dot);
}

/** Scans a directory (recursively when local) and groups files into one row per key: `a/0001.jpg` + `a/0001.cls`. */
async function dirPart(
  url: string,
  _base: string,
  source: ByteSource,
  batchSize: number,
  signal?: AbortSignal,
): Promise<TablePart> {
  const files = await walk(url, source, signal);
  const prefix = (url.startsWith('file:') ? toLocalPath(url) : url).replace(/\/+$/, '');
  const groups = new Map<string, Record<string, unknown>>();
  const exts = new Set<string>();
  for (const f of files) {
    const rel = f.slice(prefix.length + 1);
    const slash = rel.lastIndexOf('/');
    const dot = rel.indexOf('.', slash + 1);
    if (dot === -1 || rel.slice(slash + 1).startsWith('.')) continue;
    const key = rel.slice(0, dot);
    const ext = rel.slice(dot + 1).toLowerCase();
    exts.add(ext);
    let g = groups.get(key);
    if (!g) {
      g = { __key__: key };
      groups.set(key, g);
    }
    setField(g, ext, rel);
  }
  if (groups.size === 0)
    throw new StreamsError(
      'STREAMS_INDEX_INVALID',
      `[streams/index] ${url} holds no files to index`,
      {
        url,
        fix: 'point at a directory of sample files (e.g. 000001.jpg, 000001.cls)',
      },
    );
  const rows = [...groups.values()];
  return rowsPart(
    url,
    async function* () {
      yield* rows;
    },
    batchSize,
    new Map([...exts].map((e) => [e, new Utf8()])),
  );
}

async function walk(url: string, source: ByteSource, signal?: AbortSignal): Promise<string[]> {
  const files = await source.walk(url, { signal });
  if (isRemoteUrl(url) || url.startsWith('file:')) return files;
  // Keep paths in the form the user gave (relative stays relative).
  const dir = toLocalPath(url);
  return files.map((p) => join(url, p.slice(dir.length)));
}

// ---------- Node-local IPC copy ----------

async function openLocalCopy(dir: string, key: string): Promise<TablePart | undefined> {
  const path = join(dir, `${key}.arrow`);
  let meta: { numRows: number };
  try {
    meta = JSON.parse(await readFile(join(dir, `${key}.json`), 'utf8'));
  } catch {
    return undefined;
  }
  const fh = await open(path, 'r').catch(() => undefined);
  if (!fh) return undefined;
  const reader = await (await RecordBatchReader.from(fh)).open();
  const fields = [...reader.schema.fields];
  await fh.close();
  return {
    url: path,
    fields,
    numRows: meta.numRows,
    async *batches(signal) {
      const h = await open(path, 'r');
      try {
        const r = await (await RecordBatchReader.from(h)).open();
        for await (const b of r as AsyncIterable<RecordBatch>) {
          throwIfAborted(signal);
          yield b;
        }
      } finally {
        await h.close();
      }
    },
  };
}

// ---------- The table ----------

function unifySchema(parts: TablePart[]): Schema {
  const fields = new Map<string, { field: Field; from: string }>();
  for (const p of parts) {
    for (const f of p.fields) {
      const prev = fields.get(f.name);
      if (!prev || String(prev.field.type) === 'Null') {
        fields.set(f.name, { field: f, from: p.url });
        continue;
      }
      if (String(f.type) === 'Null') continue;
      if (String(prev.field.type) !== String(f.type))
        throw new StreamsError(
          'STREAMS_SCHEMA_MISMATCH',
          `[streams/index] column "${f.name}" is ${typeName(f.type)} in ${basenameUrl(p.url)} but ${typeName(prev.field.type)} in ${basenameUrl(prev.from)}`,
          { url: p.url, fix: `give column "${f.name}" one type in every file of the index` },
        );
    }
  }
  return new Schema([...fields.values()].map((x) => new Field(x.field.name, x.field.type, true)));
}

/** Re-shapes a batch to the unified schema: missing columns become nulls. */
function conform(batch: RecordBatch, schema: Schema): RecordBatch {
  if (
    batch.schema.fields.length === schema.fields.length &&
    batch.schema.fields.every((f, i) => f.name === schema.fields[i]?.name)
  )
    return batch;
  const vectors = schema.fields.map((f) => {
    const v = batch.getChild(f.name);
    return v ?? toArrowVector(new Array(batch.numRows).fill(null), f.type);
  });
  return batchOf(schema.fields, vectors, batch.numRows);
}

async function makeTable(
  spec: string,
  base: string,
  files: string[],
  parts: TablePart[],
  filter: RowPredicate | undefined,
  options: IndexTableOptions,
  source: ByteSource,
  owns: boolean,
  servedFrom: 'source' | 'localCopy',
): Promise<IndexTable> {
  const schema = unifySchema(parts);
  const names = schema.fields.map((f) => f.name);
  for (const c of options.urlColumns ?? []) {
    if (!names.includes(c))
      throw new StreamsError(
        'STREAMS_INDEX_INVALID',
        `[streams/index] URL column "${c}" is not in the index`,
        {
          url: spec,
          fix: `choose among ${names.join(', ')}`,
        },
      );
  }
  const isScan = parts.some((p) => p.url === base) || files.some((f) => formatOf(f) === 'list');
  const urlColumns =
    options.urlColumns ??
    (isScan
      ? names.filter((n) => n !== '__key__')
      : names.filter(
          (n) => URL_NAMES.test(n) && schema.fields.find((f) => f.name === n)?.type instanceof Utf8,
        ));
  const sizeColumn = options.sizeColumn ?? SIZE_NAMES.find((n) => names.includes(n));
  const hashColumn = options.hashColumn ?? HASH_NAMES.find((n) => names.includes(n));
  for (const [what, c] of [
    ['size', options.sizeColumn],
    ['hash', options.hashColumn],
  ] as const)
    if (c !== undefined && !names.includes(c))
      throw new StreamsError(
        'STREAMS_INDEX_INVALID',
        `[streams/index] ${what} column "${c}" is not in the index`,
        {
          url: spec,
          fix: `choose among ${names.join(', ')}`,
        },
      );
  const urlBase = isScan && parts[0]?.url === base ? base : dirnameUrl(files[0] ?? spec);

  async function* rawBatches(signal?: AbortSignal): AsyncGenerator<RecordBatch> {
    for (const p of parts) for await (const b of p.batches(signal)) yield conform(b, schema);
  }
  async function* filtered(signal?: AbortSignal): AsyncGenerator<RecordBatch> {
    if (!filter) {
      yield* rawBatches(signal);
      return;
    }
    for await (const b of rawBatches(signal)) {
      const keep: number[] = [];
      for (let i = 0; i < b.numRows; i++) if (filter(plainRow(b, i))) keep.push(i);
      if (keep.length === b.numRows) yield b;
      else if (keep.length > 0) {
        const vectors = schema.fields.map((f) => {
          const col = b.getChild(f.name);
          return toArrowVector(
            keep.map((i) => col?.get(i) ?? null),
            f.type,
          );
        });
        yield batchOf(schema.fields, vectors, keep.length);
      }
    }
  }
  let numRows = parts.reduce((a, p) => a + p.numRows, 0);
  if (filter) {
    numRows = 0;
    for await (const b of filtered(options.signal)) numRows += b.numRows;
  }
  // Where the rows come from: a remote index may not name local files.
  const origin = files.find(isRemoteUrl) ?? spec;
  const resolveUrl = (v: string, where?: string) => {
    const url = joinUrl(urlBase, v);
    checkNamedUrl(url, origin, options.allowUrls, where);
    return url;
  };
  const close = async () => {
    if (owns) await source.close();
  };
  const table: IndexTable = {
    url: spec,
    files,
    numRows,
    schema,
    urlColumns,
    metadataColumns: names.filter((n) => !urlColumns.includes(n)),
    sizeColumn,
    hashColumn,
    servedFrom,
    batches: (o = {}) => filtered(o.signal ?? options.signal),
    async *rows(o = {}) {
      const start = o.start ?? 0;
      const end = o.end ?? Number.POSITIVE_INFINITY;
      let i = 0;
      for await (const b of filtered(o.signal ?? options.signal)) {
        if (i + b.numRows <= start) {
          i += b.numRows;
          continue;
        }
        for (let r = 0; r < b.numRows; r++, i++) {
          if (i < start) continue;
          if (i >= end) return;
          const row = plainRow(b, r);
          for (const c of urlColumns) {
            const v = row[c];
            if (typeof v === 'string' && v !== '')
              row[c] = resolveUrl(v, `row ${i}, column "${c}" `);
          }
          yield row;
        }
        if (i >= end) return;
      }
    },
    resolveUrl: (v) => resolveUrl(v),
    async toTable(o = {}) {
      const batches: RecordBatch[] = [];
      for await (const b of filtered(o.signal ?? options.signal)) batches.push(b);
      return batches.length > 0 ? new Table(batches) : new Table(schema);
    },
    async saveIpc(path, o = {}) {
      const tmp = `${path}.tmp-${process.pid}`;
      const fh = await open(tmp, 'w');
      try {
        const writer = new RecordBatchFileWriter();
        writer.reset(undefined, schema);
        const drain = async () => {
          for await (const chunk of writer as AsyncIterable<Uint8Array>) await fh.write(chunk);
        };
        const done = drain();
        for await (const b of filtered(o.signal ?? options.signal)) writer.write(b);
        writer.finish();
        await done;
      } finally {
        await fh.close();
      }
      await rename(tmp, path);
    },
    close,
    [Symbol.asyncDispose]: close,
  };
  return table;
}

function plainRow(b: RecordBatch, i: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of b.schema.fields)
    setField(out, f.name, plainValue(b.getChild(f.name)?.get(i) ?? null));
  return out;
}
