// JSON index files: JSONL read like CSV (one pass types the columns, notes where chunks start and
// holds their rows in typed columns up to heldBytes, then range reads for the other chunks; a
// gzipped file's text kept in memory), and `.json` (an array of objects or an object of column
// arrays), which is parsed whole.
import { StreamsError, throwIfAborted } from '@streams/core';
import type { RecordBatch } from 'apache-arrow';
import {
  decodeUtf8,
  gunzipIfGz,
  LineSplitter,
  readAhead,
  type TextOptions,
} from '../chunkReader.js';
import { parseJsonlLine } from '../textShards.js';
import { basenameUrl } from '../urls.js';
import {
  BLANK,
  FLAT,
  JsonlChunkBuilder,
  JsonlColumns,
  JsonlScanner,
  OTHER,
} from './jsonlColumns.js';
import {
  byteRangePart,
  DEFAULT_HELD_BYTES,
  fileBytes,
  invalid,
  memoryBytes,
  memoryPart,
  type PartFile,
  type PartOptions,
  partFile,
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
  const gz = /\.gz$/i.test(url);
  // As for CSV, one pass types the columns over the whole file, notes where every chunk of rows
  // starts, and parses the rows into typed columns, keeping chunks up to heldBytes; they become
  // batches of the file's types once it is typed. Chunks past the bound are read again.
  const columns = new JsonlColumns();
  const scanner = new JsonlScanner(columns);
  const starts: number[] = [];
  const held: JsonlChunkBuilder[] = [];
  let heldSoFar = 0;
  let chunk: JsonlChunkBuilder | undefined;
  const endChunk = () => {
    if (!chunk) return;
    columns.merge(chunk);
    if (heldSoFar < heldBytes) {
      heldSoFar += chunk.compact();
      if (heldSoFar <= heldBytes) held[starts.length - 1] = chunk;
    }
  };
  let numRows = 0;
  const text: Buffer[] = []; // a gzipped file's text
  const lines = new LineSplitter({ ...options, url }, (buf, a, b, no, offset) => {
    const line = readLine(scanner, buf, a, b, no, url, options);
    if (line === BLANK) return;
    if (numRows % chunkRows === 0) {
      endChunk();
      const prev = chunk;
      chunk = new JsonlChunkBuilder(columns, chunkRows, prev && ((k) => prev.textLength(k) * 1.05));
      starts.push(offset);
    }
    if (chunk) addLine(chunk, line, scanner, buf);
    numRows++;
  });
  for await (const c of readAhead(gunzipIfGz(f.source.stream(f.url, { signal }), url))) {
    throwIfAborted(signal);
    lines.push(c);
    if (gz) text.push(Buffer.from(c.buffer, c.byteOffset, c.byteLength));
  }
  lines.end();
  endChunk();
  columns.frozen = true;
  const batches = new Map<number, RecordBatch>();
  held.forEach((c, k) => {
    const batch = c.finish();
    if (batch) batches.set(k, batch);
  });
  return byteRangePart(
    gz ? memoryBytes(Buffer.concat(text), f.release) : await fileBytes(f, signal),
    url,
    columns.fields(),
    { starts, numRows, chunkRows },
    async (bytes, rows) => {
      const b = new JsonlChunkBuilder(columns, rows);
      const s = new JsonlScanner(columns);
      let n = 0; // rows in the range: more than it held when opened means the file changed
      const again = new LineSplitter({ ...options, url }, (buf, a, end, no) => {
        const line = readLine(s, buf, a, end, no, url, options);
        if (line !== BLANK && n++ < rows) addLine(b, line, s, buf);
      });
      again.push(bytes);
      again.end();
      return n === rows ? b.finish() : undefined;
    },
    batches,
  );
}

/**
 * What line `no` (bytes [a, b) of `buf`) holds: BLANK, FLAT (its fields are in the scanner), or the
 * record JSON.parse made of a line the scanner left; a bad line throws its error.
 */
function readLine(
  scanner: JsonlScanner,
  buf: Buffer,
  a: number,
  b: number,
  no: number,
  url: string,
  options: TextOptions,
): typeof BLANK | typeof FLAT | Record<string, unknown> {
  const scanned = scanner.scan(buf, a, b);
  if (scanned !== OTHER) return scanned === FLAT ? FLAT : BLANK;
  const record = parseJsonlLine(
    decodeUtf8(buf.subarray(a, b), options.invalidUtf8, `line ${no}`, url),
    no,
    url,
  );
  if (record instanceof StreamsError) throw record;
  return record ?? BLANK;
}

/** Adds a line {@link readLine} read (not blank) to a chunk. */
function addLine(
  chunk: JsonlChunkBuilder,
  line: typeof FLAT | Record<string, unknown>,
  scanner: JsonlScanner,
  buf: Buffer,
): void {
  if (line === FLAT) chunk.addScanned(scanner, buf);
  else chunk.addRecord(line);
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
