// `streams index validate` (Snap's "clean broken" step): every row's files are fetched and checked
// the way a table stream fetches them (the table format's `fetchSample`: existence, size and hash
// columns), optionally decoded by a caller-given check, and the good rows are written as a new index.

import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isStreamsError, redactUrl, type StreamsErrorCode, throwIfAborted } from '@streams/core';
import type { ByteSource } from './byteSource.js';
import type { FormatOpenOptions, LoadedUnit, Sample } from './formats/format.js';
import { getFormat } from './formats/registry.js';
import { buildIndex, checkIndexOut } from './indexBuild.js';
import { RoutingByteSource } from './routingByteSource.js';
import { sampleToJsonLine } from './sampleJson.js';

/** Options of {@link validateIndex}. */
export interface ValidateIndexOptions
  extends Pick<
    FormatOpenOptions,
    | 'urlColumns'
    | 'columnsToDownload'
    | 'sizeColumn'
    | 'hashColumn'
    | 'filter'
    | 'allowUrls'
    | 'chunkRows'
    | 'maxLineBytes'
    | 'maxCellBytes'
    | 'invalidUtf8'
  > {
  /** Where the cleaned index (the good rows, URL columns resolved) goes: `.parquet`, `.csv`, `.tsv` or `.jsonl`, local or remote. */
  out?: string;
  /** Rows checked at once (default 16). */
  concurrency?: number;
  /**
   * Decodes a fetched file and throws when it cannot (e.g. an image through `@streams/transforms`);
   * a throw drops the row with the error's code (`STREAMS_DECODE_FAILED` for non-streams errors).
   */
  decodeFile?: (
    bytes: Uint8Array,
    at: { column: string; url: string; row: number },
  ) => Promise<void>;
  /** Called once per dropped row, in no particular order (rows are checked concurrently). */
  onDropped?: (row: DroppedRow) => void;
  /** Called after each checked row. */
  onProgress?: (p: { rows: number; total: number; dropped: number; bytes: number }) => void;
  /** Where bytes come from (default: local files, remote URLs through the downloader). */
  source?: ByteSource;
  signal?: AbortSignal;
}

/** A row {@link validateIndex} dropped, and why. */
export interface DroppedRow {
  /** Row number in the index (after its filter), as `streams cat` counts. */
  row: number;
  /** The URL column that failed, when the failure names one. */
  column: string | undefined;
  /** That cell's URL, credentials and signatures removed. */
  url: string | undefined;
  /** The stable error code: `STREAMS_NOT_FOUND`, `STREAMS_SIZE_MISMATCH`, `STREAMS_HASH_MISMATCH`, `STREAMS_DECODE_FAILED`... */
  reason: StreamsErrorCode;
  message: string;
}

/** What {@link validateIndex} found. */
export interface ValidateIndexResult {
  rows: number;
  good: number;
  dropped: number;
  /** Dropped rows per reason code. */
  reasons: Partial<Record<StreamsErrorCode, number>>;
  /** Bytes fetched to check the rows. */
  bytes: number;
  out: string | undefined;
}

/** The DuckDB type a column of the cleaned index is written with, from its Arrow type name (JSON for nested or binary data). */
function duckType(arrowType: string): string {
  const int = /^(U?)[Ii]nt(8|16|32|64)$/.exec(arrowType);
  if (int)
    return `${int[1] ? 'U' : ''}${{ 8: 'TINYINT', 16: 'SMALLINT', 32: 'INTEGER', 64: 'BIGINT' }[Number(int[2]) as 8]}`;
  const known: Record<string, string> = {
    Float16: 'FLOAT',
    Float32: 'FLOAT',
    Float64: 'DOUBLE',
    Bool: 'BOOLEAN',
    Utf8: 'VARCHAR',
    LargeUtf8: 'VARCHAR',
    Date32: 'DATE',
    Date64: 'DATE',
    Timestamp: 'TIMESTAMP',
  };
  return known[arrowType] ?? 'JSON';
}

const sqlString = (s: string) => `'${s.replaceAll("'", "''")}'`;

/** The URL column a row failure is about: the cell whose URL the error names, or the empty one. */
function failedColumn(row: Sample, columns: readonly string[], err: unknown): string | undefined {
  const url = isStreamsError(err) ? err.url : undefined;
  return (
    columns.find((c) => typeof row[c] === 'string' && redactUrl(row[c] as string) === url) ??
    columns.find((c) => typeof row[c] !== 'string' || row[c] === '')
  );
}

/**
 * Checks every row of an index table: each URL cell is fetched (it must exist, match the row's
 * size and hash columns and, with `decodeFile`, decode), `concurrency` rows at a time; rows that fail
 * are reported (`onDropped`) and, with `out`, the good ones are written as a new index in the
 * order of the input. Writing the cleaned index needs the optional peer `@duckdb/node-api`.
 *
 * ```ts
 * const r = await validateIndex('index.parquet', { out: 'clean.parquet', onDropped: (d) => console.log(d) });
 * ```
 */
export async function validateIndex(
  index: string,
  options: ValidateIndexOptions = {},
): Promise<ValidateIndexResult> {
  const {
    signal,
    out,
    concurrency = 16,
    decodeFile,
    onDropped,
    onProgress,
    source: given,
    ...open
  } = options;
  if (out !== undefined) checkIndexOut(out);
  const workers = Math.max(1, Math.floor(concurrency));
  const source = given ?? new RoutingByteSource();
  const work = out === undefined ? undefined : await mkdtemp(join(tmpdir(), 'streams-validate-'));
  const goodFile = work && join(work, 'good.jsonl');
  const writer = goodFile ? createWriteStream(goodFile) : undefined;
  const result: ValidateIndexResult = {
    rows: 0,
    good: 0,
    dropped: 0,
    reasons: {},
    bytes: 0,
    out,
  };
  try {
    const ds = await getFormat('table').open(index, { ...open, source, signal });
    try {
      const columns = ds.urlColumns ?? [];
      const total = await ds.count({ signal });
      for (let k = 0; k < ds.units.length; k++) {
        const unit = await ds.load(k, { signal });
        const first = result.rows;
        const good = new Array<Sample | undefined>(unit.samples);
        let next = 0;
        const checkOne = async (j: number) => {
          const row = unit.decode(j);
          const n = first + j;
          let decoding: string | undefined;
          try {
            const fetched = await (unit.fetchSample as NonNullable<LoadedUnit['fetchSample']>)(j, {
              signal,
            });
            const bytes = fetched.decode(0);
            for (const c of columns) {
              const b = bytes[c];
              if (!(b instanceof Uint8Array)) continue;
              result.bytes += b.byteLength;
              decoding = c;
              await decodeFile?.(b, { column: c, url: row[c] as string, row: n });
            }
            good[j] = row;
          } catch (e) {
            throwIfAborted(signal);
            const column = decoding ?? failedColumn(row, columns, e);
            const url =
              column !== undefined && typeof row[column] === 'string' ? row[column] : undefined;
            const reason: StreamsErrorCode = isStreamsError(e) ? e.code : 'STREAMS_DECODE_FAILED';
            result.dropped++;
            result.reasons[reason] = (result.reasons[reason] ?? 0) + 1;
            onDropped?.({
              row: n,
              column,
              url: url === undefined ? undefined : redactUrl(url as string),
              reason,
              message: (e as Error).message,
            });
          }
          result.rows++;
          onProgress?.({
            rows: result.rows,
            total,
            dropped: result.dropped,
            bytes: result.bytes,
          });
        };
        await Promise.all(
          Array.from({ length: Math.min(workers, unit.samples) }, async () => {
            while (next < unit.samples) await checkOne(next++);
          }),
        );
        await unit.release();
        for (const row of good) {
          if (row === undefined) continue;
          result.good++;
          if (writer && !writer.write(`${sampleToJsonLine(row)}\n`)) await once(writer, 'drain');
        }
      }
      if (writer && goodFile && out !== undefined) {
        writer.end();
        await once(writer, 'close');
        const cols = ds.columns
          .map((c) => `${sqlString(c.name)}: ${sqlString(duckType(c.type))}`)
          .join(', ');
        await buildIndex({
          sql: `SELECT * FROM read_json(${sqlString(goodFile)}, format = 'newline_delimited', columns = {${cols}})`,
          out,
          signal,
          source,
        });
      }
      return result;
    } finally {
      await ds.close();
    }
  } finally {
    writer?.destroy();
    if (given === undefined) await source.close();
    if (work) await rm(work, { recursive: true, force: true });
  }
}
