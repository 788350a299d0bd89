// CSV/TSV index files: one streamed pass at open types the columns over the whole file (from the
// cells' bytes, no strings) and notes where every chunk of rows starts; a chunk is then read on its
// own by a range read and parsed straight into typed columns. Gzipped files cannot be entered in
// the middle: their text is kept in memory after the pass and chunks read from it.
import { throwIfAborted } from '@streams/core';
import { Field } from 'apache-arrow';
import { gunzipChunks } from '../chunkReader.js';
import { type CsvParseOptions, CsvTokenizer, type CsvType, csvFieldText } from '../csv.js';
import { basenameUrl } from '../urls.js';
import { arrowTypeOfCsv, CsvBatchBuilder, widenCsvTypes } from './csvColumns.js';
import {
  byteRangePart,
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
    const part = await readCsv(url, f, options);
    if (part.close === undefined) await f.release();
    return part;
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
  const gz = /\.gz$/i.test(url);
  const raw = f.source.stream(f.url, { signal });
  const csv: CsvParseOptions = { ...options, url };
  // The pass: header, column types over the whole file (so a late "abc" in an int column is
  // seen), and the offset of every chunkRows-th record.
  let header: string[] | undefined;
  let types: (CsvType | undefined)[] = [];
  const starts: number[] = [];
  let numRows = 0;
  const text: Buffer[] = []; // a gzipped file's text
  const pass = new CsvTokenizer(csv, (r) => {
    if (!header) {
      const row = Array.from({ length: r.count }, (_, k) => csvFieldText(r, k));
      const dup = row.find((h, i) => row.indexOf(h) !== i);
      if (dup !== undefined)
        throw invalid(`CSV header of ${basenameUrl(url)} repeats column "${dup}"`, url);
      header = row;
      types = row.map(() => undefined);
      return;
    }
    if (r.count !== header.length)
      throw invalid(
        `${basenameUrl(url)} line ${r.line} has ${r.count} fields, the header has ${header.length}`,
        url,
        undefined,
        'give every row as many fields as the header (quote fields holding the delimiter)',
      );
    widenCsvTypes(types, r);
    if (numRows % chunkRows === 0) starts.push(r.offset);
    numRows++;
  });
  for await (const chunk of gz ? gunzipChunks(raw, { url }) : raw) {
    throwIfAborted(signal);
    pass.push(chunk);
    if (gz) text.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  }
  pass.end();
  if (!header) throw invalid(`${basenameUrl(url)} is empty (no header row)`, url);
  const fields = header.map((n, k) => new Field(n, arrowTypeOfCsv(types[k]), true));
  const replace = options.invalidUtf8 === 'replace';
  return byteRangePart(
    gz ? memoryBytes(Buffer.concat(text)) : await fileBytes(f, signal),
    url,
    fields,
    { starts, numRows, chunkRows },
    async (bytes, rows) => {
      const builder = new CsvBatchBuilder(fields, types, rows, replace);
      let fits = true;
      const t = new CsvTokenizer(csv, (r) => {
        fits &&= builder.add(r);
      });
      t.push(bytes);
      t.end();
      return fits ? builder.finish() : undefined;
    },
  );
}
