import { StreamsError } from '@streams/core';
import type { ByteSource } from './byteSource.js';
import {
  DEFAULT_MAX_LINE_BYTES,
  gunzipIfGz,
  type TextOptions,
  textLineBatches,
} from './chunkReader.js';
import { type CsvType, convertCsvCell, inferCsvType, parseCsv } from './csv.js';
import { setField } from './sampleJson.js';

/** The bytes of one text shard (JSONL, CSV), gunzipped when its name ends in `.gz`. */
export function chunksOf(
  source: ByteSource,
  url: string,
  signal?: AbortSignal,
): AsyncIterable<Uint8Array> {
  return gunzipIfGz(source.stream(url, { signal }), url);
}

/** One JSON Lines record with its line number and the byte offset where its line starts. */
export interface JsonlEntry {
  record: Record<string, unknown>;
  no: number;
  offset: number;
}

/** JSON Lines records of one file with where they are; a bad line is `STREAMS_INDEX_INVALID` naming file and line. */
export async function* jsonlEntries(
  chunks: AsyncIterable<Uint8Array>,
  url: string,
  options: TextOptions = {},
): AsyncGenerator<JsonlEntry> {
  for await (const entries of jsonlEntryBatches(chunks, url, options)) yield* entries;
}

/**
 * The record of one JSONL line (undefined for a blank line), or the `STREAMS_INDEX_INVALID` error
 * naming its line when it is not one JSON object.
 */
export function parseJsonlLine(
  line: string,
  no: number,
  url: string,
): Record<string, unknown> | StreamsError | undefined {
  if (line.trim() === '') return undefined;
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (cause) {
    return new StreamsError(
      'STREAMS_INDEX_INVALID',
      `[streams/index] line ${no} is not valid JSON`,
      {
        url,
        cause,
        fix: 'each line of a JSONL file must be one JSON object',
      },
    );
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    return new StreamsError(
      'STREAMS_INDEX_INVALID',
      `[streams/index] line ${no} is not a JSON object`,
      { url, fix: 'each line of a JSONL file must be one JSON object' },
    );
  return v as Record<string, unknown>;
}

/** {@link jsonlEntries}, the records ended by each chunk at once (a promise per chunk, not per record). */
export async function* jsonlEntryBatches(
  chunks: AsyncIterable<Uint8Array>,
  url: string,
  options: TextOptions = {},
): AsyncGenerator<JsonlEntry[]> {
  for await (const lines of textLineBatches(chunks, { ...options, url })) {
    const out: JsonlEntry[] = [];
    let bad: StreamsError | undefined;
    for (const { line, no, offset } of lines) {
      const record = parseJsonlLine(line, no, url);
      if (record instanceof StreamsError) {
        bad = record;
        break;
      }
      if (record) out.push({ record, no, offset });
    }
    // The records before a bad line are handed out first, as record by record.
    if (out.length > 0) yield out;
    if (bad) throw bad;
  }
}

/** JSON Lines records of one shard; a bad line is `STREAMS_INDEX_INVALID` naming file and line. */
export async function* jsonlRecords(
  chunks: AsyncIterable<Uint8Array>,
  url: string,
  options: TextOptions = {},
): AsyncGenerator<Record<string, unknown>> {
  for await (const e of jsonlEntries(chunks, url, options)) yield e.record;
}

/**
 * CSV records of one shard with typed values (types inferred from the first rows). A row with a
 * different number of fields than the header is `STREAMS_INDEX_INVALID` naming file and line.
 */
export async function* csvRecords(
  chunks: AsyncIterable<Uint8Array>,
  url: string,
  options: TextOptions & {
    delimiter?: string;
    inferRows?: number;
    signal?: AbortSignal;
    types?: CsvType[];
  } = {},
): AsyncGenerator<Record<string, unknown>> {
  const delimiter = options.delimiter ?? (/\.tsv(\.gz)?$/i.test(url) ? '\t' : ',');
  let header: string[] | undefined;
  let types = options.types;
  const buffer: { row: string[]; line: number }[] = [];
  const inferRows = options.inferRows ?? 1000;
  // Rows held for typing stop at inferRows or at one maximal line of text, whichever comes first.
  const inferChars = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  let buffered = 0;
  const toRecord = (row: string[], line: number) => {
    const h = header as string[];
    if (row.length !== h.length)
      throw new StreamsError(
        'STREAMS_INDEX_INVALID',
        `[streams/index] CSV line ${line} has ${row.length} fields, the header has ${h.length}`,
        {
          url,
          fix: 'give every row as many fields as the header (quote fields holding the delimiter)',
        },
      );
    const out: Record<string, unknown> = {};
    for (let k = 0; k < h.length; k++)
      setField(out, h[k] as string, convertCsvCell(types?.[k] ?? 'string', row[k] as string));
    return out;
  };
  for await (const r of parseCsv(chunks, { ...options, delimiter, url })) {
    if (!header) {
      header = r.row;
      const seen = new Set<string>();
      for (const h of header) {
        if (seen.has(h))
          throw new StreamsError(
            'STREAMS_INDEX_INVALID',
            `[streams/index] CSV header repeats column "${h}"`,
            {
              url,
              fix: 'give every column a distinct name',
            },
          );
        seen.add(h);
      }
      continue;
    }
    if (!types) {
      buffer.push(r);
      for (const cell of r.row) buffered += cell.length;
      if (buffer.length < inferRows && buffered < inferChars) continue;
      types = header.map((_, k) => inferCsvType(buffer.map((b) => b.row[k] ?? '')));
      for (const b of buffer) yield toRecord(b.row, b.line);
      buffer.length = 0;
      continue;
    }
    yield toRecord(r.row, r.line);
  }
  if (header && !types) {
    types = header.map((_, k) => inferCsvType(buffer.map((b) => b.row[k] ?? '')));
    for (const b of buffer) yield toRecord(b.row, b.line);
  }
}
