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
  const file = {
    byteLength: size,
    slice: async (start: number, end?: number) => {
      const bytes = await source.readRange(at, start, end ?? size, { signal });
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
  // hyparquet's built-in snappy is the fastest for the common case; the others come from hyparquet-compressors.
  const { SNAPPY: _snappy, ...others } = (await import('hyparquet-compressors')).compressors;
  const compressors = others as Parameters<typeof hp.parquetRead>[0]['compressors'];
  const readGroup = async ([a, b]: [number, number], sig?: AbortSignal): Promise<Columns> => {
    const cols: Columns = new Map();
    const groupFile = {
      byteLength: size,
      slice: async (s: number, e?: number) => {
        const bytes = await source.readRange(at, s, e ?? size, { signal: sig ?? signal });
        return bytes.buffer.slice(
          bytes.byteOffset,
          bytes.byteOffset + bytes.byteLength,
        ) as ArrayBuffer;
      },
    };
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
