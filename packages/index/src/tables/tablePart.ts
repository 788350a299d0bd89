// What every index-table reader returns: one file of an index as chunks of rows, each loadable on
// its own (random access), plus the helpers the readers share to build Arrow record batches.
import { StreamsError } from '@streams/core';
import {
  type DataType,
  Field,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  type Vector,
} from 'apache-arrow';
import { inferArrowType, toArrowVector } from '../arrowConvert.js';
import type { ByteSource } from '../byteSource.js';
import type { TextOptions } from '../chunkReader.js';
import { LocalByteSource } from '../localByteSource.js';
import { typeName } from '../plainValue.js';
import { basenameUrl, isRemoteUrl } from '../urls.js';

/** A run of rows of one index file, read on its own. */
export interface TableChunk {
  rows: number;
  /** The rows as a record batch with the file's fields. */
  load(signal?: AbortSignal): Promise<RecordBatch>;
}

/** One file of an index: its columns and its rows in chunks. */
export interface TablePart {
  url: string;
  /** Columns and types of this file. */
  fields: Field[];
  numRows: number;
  chunks: TableChunk[];
  /** Lets go of open file handles (Arrow IPC files). */
  close?(): Promise<void>;
}

/** What a reader needs besides the file: the byte source, the text bounds and the chunk size. */
export interface PartOptions extends TextOptions {
  source: ByteSource;
  signal?: AbortSignal;
  /** Rows per chunk for files without their own row groups. */
  chunkRows: number;
  /**
   * Bytes of CSV/JSONL rows kept as Arrow batches when the file is typed at open (default 256 MiB), so
   * reading them needs no second parse; chunks past it are read from the file again when loaded.
   */
  heldBytes?: number;
}

/** Default of {@link PartOptions.heldBytes}. */
export const DEFAULT_HELD_BYTES = 256 * 1024 * 1024;

/** Where a reader reads an index file's bytes from, and what to release when the table closes. */
export interface PartFile {
  url: string;
  source: ByteSource;
  release(): Promise<void>;
}

/**
 * The bytes of an index file that readers come back to (by chunks): a remote file is fetched once
 * into the node cache and read from its pinned entry when the source has a cache, else read from
 * the source (local files, or remote ones by range requests).
 */
export async function partFile(url: string, options: PartOptions): Promise<PartFile> {
  const pinned = isRemoteUrl(url) ? await options.source.pin?.(url, options) : undefined;
  if (!pinned) return { url, source: options.source, release: async () => {} };
  const local = new LocalByteSource({ maxHandles: 1 });
  return {
    url: pinned.path,
    source: local,
    release: async () => {
      await local.close();
      await pinned.release();
    },
  };
}

/** Default rows per chunk for files without row groups of their own. */
export const DEFAULT_CHUNK_ROWS = 65_536;

export function invalid(message: string, url: string, cause?: unknown, fix?: string): StreamsError {
  return new StreamsError('STREAMS_INDEX_INVALID', `[streams/index] ${message}`, {
    url,
    cause,
    fix: fix ?? 'check the index file',
  });
}

/** A record batch of `numRows` rows from column vectors. */
export function batchOf(fields: Field[], columns: Vector[], numRows: number): RecordBatch {
  const schema = new Schema(fields);
  const data = makeData({
    type: new Struct(fields),
    length: numRows,
    nullCount: 0,
    children: columns.map((c) => c.data[0] ?? makeData({ type: c.type, length: 0 })),
  });
  return new RecordBatch(schema, data);
}

/** A column of plain values as a vector of the field's type; a value of another type names the column. */
export function convertColumn(values: ArrayLike<unknown>, f: Field, url: string): Vector {
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

/** Rows (plain objects) as a record batch of `fields`; missing keys are nulls. */
export function rowsToBatch(
  fields: Field[],
  rows: readonly Record<string, unknown>[],
  url: string,
): RecordBatch {
  const vectors = fields.map((f) =>
    convertColumn(
      // Own keys only: a row without a "__proto__" key does not read the prototype.
      rows.map((r) => (Object.hasOwn(r, f.name) ? (r[f.name] ?? null) : null)),
      f,
      url,
    ),
  );
  return batchOf(fields, vectors, rows.length);
}

/**
 * Types the columns of row objects from a bounded, representative sample of their values: numbers
 * until 4096 (their size picks the integer width) and one value of each other JS type (one string
 * types a column as text, whatever its length: cells may be megabytes). Columns in `fixed` keep
 * their type. Call `add` for every row, then `fields()`.
 */
export class RowTyper {
  readonly #names: string[] = [];
  readonly #buf = new Map<string, unknown[]>();
  readonly #kinds = new Map<string, Set<string>>();
  rows = 0;

  constructor(private readonly fixed?: ReadonlyMap<string, DataType>) {}

  add(row: Record<string, unknown>): void {
    for (const k of Object.keys(row)) {
      let buf = this.#buf.get(k);
      let kinds = this.#kinds.get(k);
      if (!buf || !kinds) {
        this.#names.push(k);
        buf = [];
        kinds = new Set();
        this.#buf.set(k, buf);
        this.#kinds.set(k, kinds);
      }
      const v = row[k];
      if (v === null || v === undefined || this.fixed?.has(k)) continue;
      const kind = v instanceof Uint8Array ? 'bytes' : v instanceof Date ? 'date' : typeof v;
      if (!kinds.has(kind) || ((kind === 'number' || kind === 'bigint') && buf.length < 4096)) {
        kinds.add(kind);
        buf.push(v);
      }
    }
    this.rows++;
  }

  fields(): Field[] {
    return this.#names.map(
      (n) => new Field(n, this.fixed?.get(n) ?? inferArrowType(this.#buf.get(n) ?? []), true),
    );
  }
}

/** Chunks of rows held in memory (formats read whole at open: JSON, list files, directory scans, gzipped text). */
export function memoryChunks(
  fields: Field[],
  rows: readonly Record<string, unknown>[],
  chunkRows: number,
  url: string,
): TableChunk[] {
  const chunks: TableChunk[] = [];
  for (let a = 0; a < rows.length; a += chunkRows) {
    const slice = rows.slice(a, a + chunkRows);
    chunks.push({ rows: slice.length, load: async () => rowsToBatch(fields, slice, url) });
  }
  return chunks;
}

/** A part whose rows are all in memory, typed from their values (or `fixed` types). */
export function memoryPart(
  url: string,
  rows: readonly Record<string, unknown>[],
  chunkRows: number,
  fixed?: ReadonlyMap<string, DataType>,
): TablePart {
  const typer = new RowTyper(fixed);
  for (const r of rows) typer.add(r);
  const fields = typer.fields();
  return { url, fields, numRows: rows.length, chunks: memoryChunks(fields, rows, chunkRows, url) };
}

/** Where a text part reads a chunk's bytes: the file (by range reads), or its text held in memory (gzip). */
export interface TextBytes {
  size: number;
  read(start: number, end: number, signal?: AbortSignal): Promise<Uint8Array>;
  close?(): Promise<void>;
}

/** The bytes of `f` read by ranges; the part keeps `f` until it is closed. */
export async function fileBytes(f: PartFile, signal?: AbortSignal): Promise<TextBytes> {
  return {
    size: await f.source.size(f.url, { signal }),
    read: (start, end, sig) => f.source.readRange(f.url, start, end, { signal: sig ?? signal }),
    close: f.release,
  };
}

/** Text held in memory (a gunzipped file), read by the same chunk offsets; `close` lets go of its file. */
export function memoryBytes(text: Uint8Array, close?: () => Promise<void>): TextBytes {
  return { size: text.length, read: async (start, end) => text.subarray(start, end), close };
}

/**
 * A text file's part read by byte ranges: `starts[k]` is the offset of record k x chunkRows (kept
 * while the file is typed, so no per-record table is held), the last chunk runs to the end. A
 * chunk reads its range, parses it with `parse` into a batch, and checks it still holds the rows
 * it held when the file was typed (`parse` returns undefined when a record no longer fits).
 * Chunks in `held` (parsed while the file was typed) are served from memory until the part closes.
 */
export function byteRangePart(
  bytes: TextBytes,
  url: string,
  fields: Field[],
  layout: { starts: readonly number[]; numRows: number; chunkRows: number },
  parse: (bytes: Uint8Array, rows: number) => Promise<RecordBatch | undefined>,
  held = new Map<number, RecordBatch>(),
): TablePart {
  const { starts, numRows, chunkRows } = layout;
  const chunks = starts.map((start, k) => {
    const rows = Math.min(chunkRows, numRows - k * chunkRows);
    const end = k + 1 < starts.length ? (starts[k + 1] as number) : bytes.size;
    const load = async (signal?: AbortSignal) => {
      const kept = held.get(k);
      if (kept) return kept;
      const batch = await parse(await bytes.read(start, end, signal), rows);
      if (batch?.numRows !== rows)
        throw invalid(
          `${basenameUrl(url)} changed since it was opened (bytes ${start}..${end} no longer hold the ${rows} rows they held)`,
          url,
          undefined,
          'open the index again',
        );
      return batch;
    };
    return { rows, load };
  });
  const close = async () => {
    held.clear();
    await bytes.close?.();
  };
  return { url, fields, numRows, close, chunks };
}
