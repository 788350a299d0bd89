// JSON index files: JSONL read like CSV (a typing pass noting where chunks start and holding their
// rows as batches up to heldBytes, then range reads for the other chunks; gzipped files kept in
// memory), and `.json` (an array of objects or an object of column arrays), which is parsed whole.
import { StreamsError } from '@streams/core';
import type { Field, RecordBatch } from 'apache-arrow';
import { gunzipIfGz, once } from '../chunkReader.js';
import { jsonlEntryBatches } from '../textShards.js';
import { basenameUrl } from '../urls.js';
import {
  byteRangePart,
  DEFAULT_HELD_BYTES,
  fileBytes,
  invalid,
  memoryChunks,
  memoryPart,
  type PartFile,
  type PartOptions,
  partFile,
  RowTyper,
  rowsToBatch,
  type TablePart,
} from './tablePart.js';

/** Opens a JSON Lines index file. */
export async function jsonlPart(url: string, options: PartOptions): Promise<TablePart> {
  const f = await partFile(url, options);
  try {
    const part = await readJsonl(url, f, options);
    if (part.close === undefined) await f.release();
    return part;
  } catch (e) {
    await f.release();
    throw e;
  }
}

async function readJsonl(url: string, f: PartFile, options: PartOptions): Promise<TablePart> {
  const { signal, chunkRows } = options;
  const heldBytes = options.heldBytes ?? DEFAULT_HELD_BYTES;
  const { source } = f;
  const gz = /\.gz$/i.test(url);
  const typer = new RowTyper();
  const starts: number[] = [];
  const kept: Record<string, unknown>[] = [];
  // As for CSV: each chunk's rows become a batch of the types known when it ends, held up to
  // heldBytes; a chunk whose types change later is dropped (read again when loaded).
  const held = new Map<number, { batch: RecordBatch; types: string }>();
  let heldSoFar = 0;
  let chunk: Record<string, unknown>[] = [];
  const typesOf = (fields: Field[]) => fields.map((x) => `${x.name}:${x.type}`).join();
  const endChunk = () => {
    if (chunk.length === 0 || gz || heldSoFar >= heldBytes) return;
    const fields = typer.fields();
    try {
      const batch = rowsToBatch(fields, chunk, url);
      heldSoFar += batch.data.byteLength;
      if (heldSoFar <= heldBytes) held.set(starts.length - 1, { batch, types: typesOf(fields) });
    } catch {
      // A value the types so far do not hold: the chunk is read again when loaded.
    }
    chunk = [];
  };
  const raw = source.stream(f.url, { signal });
  for await (const entries of jsonlEntryBatches(gunzipIfGz(raw, url), url, options))
    for (const { record, offset } of entries) {
      if (typer.rows % chunkRows === 0) {
        endChunk();
        starts.push(offset);
      }
      typer.add(record);
      if (gz) kept.push(record);
      else if (heldSoFar < heldBytes) chunk.push(record);
    }
  endChunk();
  const fields = typer.fields();
  const numRows = typer.rows;
  if (gz) return { url, fields, numRows, chunks: memoryChunks(fields, kept, chunkRows, url) };
  const types = typesOf(fields);
  const batches = new Map<number, RecordBatch>();
  for (const [k, h] of held) if (h.types === types) batches.set(k, h.batch);
  return byteRangePart(
    await fileBytes(f, signal),
    url,
    fields,
    { starts, numRows, chunkRows },
    async (bytes) => {
      const rows: Record<string, unknown>[] = [];
      for await (const entries of jsonlEntryBatches(once(bytes), url, options))
        for (const e of entries) rows.push(e.record);
      return rowsToBatch(fields, rows, url);
    },
    batches,
  );
}

/** Opens a `.json` index file: an array of objects, or an object of equal-length column arrays. */
export async function jsonPart(url: string, options: PartOptions): Promise<TablePart> {
  let value: unknown;
  try {
    value = JSON.parse(
      new TextDecoder().decode(await options.source.read(url, { signal: options.signal })),
    );
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
  return memoryPart(url, rows, options.chunkRows);
}
