// Parquet index files (hyparquet): the footer at open, then one row group per chunk, read by range
// reads (local positional reads, remote range requests).
import { StreamsError } from '@streams/core';
import { Field, type RecordBatch, Utf8 } from 'apache-arrow';
import { inferArrowType } from '../arrowConvert.js';
import { basenameUrl } from '../urls.js';
import {
  batchOf,
  convertColumn,
  invalid,
  type PartOptions,
  partFile,
  type TablePart,
} from './tablePart.js';

type Columns = Map<string, ArrayLike<unknown>>;

/** Opens a Parquet file: its metadata and the first row group (to type the columns). */
export async function parquetPart(url: string, options: PartOptions): Promise<TablePart> {
  const f = await partFile(url, options);
  try {
    return await openParquet(url, f.url, f.source, options, f.release);
  } catch (e) {
    await f.release();
    throw e;
  }
}

/**
 * The file as hyparquet reads it: `slice(start, end)` as a range read of `at`. A range a damaged
 * footer makes up (not whole numbers, or past the end) fails as this file's error. hyparquet starts
 * some reads ahead and may drop them when an earlier one fails, so every read's failure is marked
 * handled here: it still reaches whoever awaits it, and is never an unhandled rejection.
 */
function parquetFile(
  url: string,
  at: string,
  source: PartOptions['source'],
  size: number,
  signal: AbortSignal | undefined,
): { byteLength: number; slice: (start: number, end?: number) => Promise<ArrayBuffer> } {
  const read = async (start: number, end: number): Promise<ArrayBuffer> => {
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end > size) {
      throw invalid(
        `${basenameUrl(url)} has a damaged Parquet footer: it points at bytes ${start}..${end} of a ${size}-byte file`,
        url,
        undefined,
        'rewrite the Parquet file',
      );
    }
    const bytes = await source.readRange(at, start, end, { signal });
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  };
  return {
    byteLength: size,
    slice: (start, end) => {
      const p = read(start, end ?? size);
      p.catch(() => undefined);
      return p;
    },
  };
}

async function openParquet(
  url: string,
  at: string,
  source: PartOptions['source'],
  options: PartOptions,
  close: () => Promise<void>,
): Promise<TablePart> {
  const { signal } = options;
  const hp = await import('hyparquet');
  const size = await source.size(at, { signal });
  const file = parquetFile(url, at, source, size, signal);
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
  // Every column chunk must name a column of the schema and lie inside the file: hyparquet reads
  // chunks it cannot place in the schema without awaiting them, so a damaged one would fail as an
  // unhandled rejection instead of an error of this file.
  const paths = new Set(leaves.filter((s) => !s.num_children).map((s) => s.name));
  const inFile = (v: unknown) => {
    const x = Number(v);
    return Number.isSafeInteger(x) && x >= 0 && x <= size;
  };
  for (const rg of metadata.row_groups) {
    const n = Number(rg.num_rows);
    if (!Number.isSafeInteger(n) || n < 0) throw badFooter(`a row group of ${rg.num_rows} rows`);
    if (!Array.isArray(rg.columns)) throw badFooter('a row group with no list of column chunks');
    for (const chunk of rg.columns) {
      const m = chunk?.meta_data;
      const path: unknown = m?.path_in_schema;
      const name = Array.isArray(path) ? path.at(-1) : undefined;
      if (!m || name === undefined || !paths.has(name))
        throw badFooter(
          `a column chunk of no column (${Array.isArray(path) ? `"${path.join('.')}"` : 'no path'})`,
        );
      const from = Number(m.dictionary_page_offset || m.data_page_offset);
      if (
        !inFile(m.data_page_offset) ||
        !inFile(from) ||
        !inFile(from + Number(m.total_compressed_size))
      )
        throw badFooter(`column "${name}" has a chunk outside the file`);
    }
    groups.push([start, start + n]);
    start += n;
  }
  const numRows = Number(metadata.num_rows);
  if (numRows !== start) throw badFooter(`${numRows} rows, its row groups hold ${start}`);
  // hyparquet's built-in snappy is the fastest for the common case; the others come from hyparquet-compressors.
  const { SNAPPY: _snappy, ...others } = (await import('hyparquet-compressors')).compressors;
  const compressors = others as Parameters<typeof hp.parquetRead>[0]['compressors'];
  const readGroup = async ([a, b]: [number, number], sig?: AbortSignal): Promise<Columns> => {
    const cols: Columns = new Map();
    const groupFile = parquetFile(url, at, source, size, sig ?? signal);
    try {
      await hp.parquetRead({
        file: groupFile,
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
      if ((cause as Error)?.name === 'AbortError') throw cause;
      throw invalid(
        `cannot read ${basenameUrl(url)} rows ${a}..${b}: ${(cause as Error)?.message}`,
        url,
        cause,
        'rewrite the Parquet file',
      );
    }
    return cols;
  };
  // Types come from the first row group's values, then are fixed for the file; the first load
  // of that group reuses what the typing read.
  let firstGroup: Columns | undefined;
  let fields: Field[];
  if (groups.length > 0) {
    firstGroup = await readGroup(groups[0] as [number, number]);
    const first = firstGroup;
    fields = columns.map((c) => new Field(c, inferArrowType(first.get(c) ?? []), true));
  } else fields = columns.map((c) => new Field(c, new Utf8(), true));
  const toBatch = (g: [number, number], cols: Columns): RecordBatch => {
    try {
      const vectors = fields.map((f) =>
        convertColumn(cols.get(f.name) ?? new Array(g[1] - g[0]).fill(null), f, url),
      );
      return batchOf(fields, vectors, g[1] - g[0]);
    } catch (cause) {
      if (cause instanceof StreamsError) throw cause;
      throw invalid(
        `cannot read ${basenameUrl(url)} rows ${g[0]}..${g[1]}: ${(cause as Error)?.message}`,
        url,
        cause,
        'rewrite the Parquet file',
      );
    }
  };
  return {
    url,
    fields,
    numRows,
    chunks: groups.map((g, k) => ({
      rows: g[1] - g[0],
      load: async (sig?: AbortSignal) => {
        let cols: Columns;
        if (k === 0 && firstGroup) {
          cols = firstGroup;
          firstGroup = undefined;
        } else cols = await readGroup(g, sig);
        return toBatch(g, cols);
      },
    })),
    close,
  };
}
