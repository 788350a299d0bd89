// CSV/TSV index files: one streamed pass at open types the columns over the whole file (from the
// cells' bytes, no strings), notes where every chunk of rows starts, and parses the rows into typed
// Arrow columns as it goes, keeping them up to `heldBytes`. A chunk past that is read again on its
// own by a range read. Gzipped files cannot be entered in the middle: their text is kept in memory.
import { throwIfAborted } from '@streams/core';
import type { RecordBatch } from 'apache-arrow';
import { gunzipIfGz, readAhead } from '../chunkReader.js';
import {
  type CsvParseOptions,
  type CsvRecordView,
  CsvTokenizer,
  type CsvType,
  csvFieldText,
} from '../csv.js';
import { basenameUrl } from '../urls.js';
import { CsvBatchBuilder, csvFields, widenCsvTypes } from './csvColumns.js';
import {
  byteRangePart,
  DEFAULT_HELD_BYTES,
  fileBytes,
  invalid,
  memoryBytes,
  type PartFile,
  type PartOptions,
  partFile,
  type TablePart,
} from './tablePart.js';

/** Opens a CSV (or, with `delimiter: '\t'`, TSV) index file. */
export async function csvPart(
  url: string,
  options: PartOptions & { delimiter: string },
): Promise<TablePart> {
  const f = await partFile(url, options);
  try {
    return await readCsv(url, f, options);
  } catch (e) {
    await f.release();
    throw e;
  }
}

async function readCsv(
  url: string,
  f: PartFile,
  options: PartOptions & { delimiter: string },
): Promise<TablePart> {
  const { signal, chunkRows } = options;
  const heldBytes = options.heldBytes ?? DEFAULT_HELD_BYTES;
  const replace = options.invalidUtf8 === 'replace';
  const gz = /\.gz$/i.test(url);
  const raw = f.source.stream(f.url, { signal });
  const csv: CsvParseOptions = { ...options, url };
  // The pass: header, column types over the whole file (so a late "abc" in an int column is
  // seen), the offset of every chunkRows-th record, and the chunks' rows as batches of the types
  // known when each chunk started; a chunk whose types widen later is dropped (read again).
  let header: string[] = [];
  let types: (CsvType | undefined)[] = [];
  const starts: number[] = [];
  let numRows = 0;
  const text: Buffer[] = []; // a gzipped file's text
  const held = new Map<number, { batch: RecordBatch; types: string }>();
  let heldSoFar = 0;
  let builder: CsvBatchBuilder | undefined;
  let builderTypes = '';
  let last: CsvBatchBuilder | undefined; // the last chunk's, for the next one's text sizes
  const endChunk = () => {
    if (!builder) return;
    last = builder;
    const batch = builder.finish(true);
    heldSoFar += batch.data.byteLength;
    if (heldSoFar <= heldBytes) held.set(starts.length - 1, { batch, types: builderTypes });
    builder = undefined;
  };
  const record = (r: CsvRecordView) => {
    if (r.count !== header.length)
      throw invalid(
        `${basenameUrl(url)} line ${r.line} has ${r.count} fields, the header has ${header.length}`,
        url,
        undefined,
        'give every row as many fields as the header (quote fields holding the delimiter)',
      );
    if (numRows % chunkRows === 0) {
      endChunk();
      starts.push(r.offset);
      widenCsvTypes(types, r);
      if (heldSoFar < heldBytes) {
        const prev = last;
        builder = new CsvBatchBuilder(
          header,
          types,
          chunkRows,
          replace,
          prev && ((k) => prev.textBytes(k) * 1.05),
        );
        builderTypes = types.join();
        if (!builder.add(r)) builder = undefined;
      }
    } else if (builder?.add(r)) widenCsvTypes(types, r, builder.settled);
    else {
      // No builder, or a record that does not fit the chunk's types (they widen): the chunk is
      // read again when loaded.
      builder = undefined;
      widenCsvTypes(types, r);
    }
    numRows++;
  };
  let onRecord = (r: CsvRecordView) => {
    const row = Array.from({ length: r.count }, (_, k) => csvFieldText(r, k));
    const dup = row.find((h, i) => row.indexOf(h) !== i);
    if (dup !== undefined)
      throw invalid(`CSV header of ${basenameUrl(url)} repeats column "${dup}"`, url);
    header = row;
    types = row.map(() => undefined);
    onRecord = record;
  };
  const pass = new CsvTokenizer(csv, (r) => onRecord(r));
  for await (const chunk of readAhead(gunzipIfGz(raw, url))) {
    throwIfAborted(signal);
    pass.push(chunk);
    if (gz) text.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  }
  pass.end();
  endChunk();
  if (onRecord !== record) throw invalid(`${basenameUrl(url)} is empty (no header row)`, url);
  const finalTypes = types.join();
  const fields = csvFields(header, types);
  const texts = types.filter((t) => t === undefined || t === 'string').length;
  const batches = new Map<number, RecordBatch>();
  for (const [k, h] of held) if (h.types === finalTypes) batches.set(k, h.batch);
  return byteRangePart(
    gz ? memoryBytes(Buffer.concat(text), f.release) : await fileBytes(f, signal),
    url,
    fields,
    { starts, numRows, chunkRows },
    async (bytes, rows) => {
      // The text of the chunk's text columns fits in its bytes.
      const b = new CsvBatchBuilder(header, types, rows, replace, () => bytes.length / texts);
      let fits = true;
      const t = new CsvTokenizer(csv, (r) => {
        fits &&= b.add(r);
      });
      t.push(bytes);
      t.end();
      return fits ? b.finish() : undefined;
    },
    batches,
  );
}
