// CSV/TSV index files: one streamed pass at open types the columns over the whole file and notes
// where every chunk of rows starts; a chunk is then read on its own by a range read. Gzipped files
// cannot be entered in the middle: their rows are kept in memory after the pass.
import { Bool, type DataType, Field, Float64, Int64, Utf8 } from 'apache-arrow';
import { gunzipChunks, once } from '../chunkReader.js';
import { type CsvType, convertCsvCell, parseCsv, widenCsvType } from '../csv.js';
import { setField } from '../sampleJson.js';
import { basenameUrl } from '../urls.js';
import {
  byteRangePart,
  invalid,
  memoryChunks,
  type PartFile,
  type PartOptions,
  partFile,
  type TablePart,
} from './tablePart.js';

const arrowTypeOf = (t: CsvType | undefined): DataType =>
  t === 'int'
    ? new Int64()
    : t === 'float'
      ? new Float64()
      : t === 'bool'
        ? new Bool()
        : new Utf8();

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
  const { source } = f;
  const gz = /\.gz$/i.test(url);
  const chunks = () => {
    const raw = source.stream(f.url, { signal });
    return gz ? gunzipChunks(raw, { url }) : raw;
  };
  const csv = { ...options, url };
  // The pass: header, column types over the whole file (so a late "abc" in an int column is
  // seen), and the offset of every chunkRows-th record.
  let header: string[] | undefined;
  let types: (CsvType | undefined)[] = [];
  const starts: number[] = [];
  let numRows = 0;
  const kept: string[][] = [];
  for await (const { row, line, offset } of parseCsv(chunks(), csv)) {
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
    if (numRows % chunkRows === 0) starts.push(offset);
    if (gz) kept.push(row);
    numRows++;
  }
  if (!header) throw invalid(`${basenameUrl(url)} is empty (no header row)`, url);
  const h = header;
  const fields = h.map((n, k) => new Field(n, arrowTypeOf(types[k]), true));
  const toRow = (row: string[]) => {
    const o: Record<string, unknown> = {};
    for (let k = 0; k < h.length; k++)
      setField(o, h[k] as string, convertCsvCell(types[k] ?? 'string', row[k] ?? ''));
    return o;
  };
  if (gz)
    return {
      url,
      fields,
      numRows,
      chunks: memoryChunks(fields, kept.map(toRow), chunkRows, url),
    };
  return byteRangePart(
    f,
    url,
    fields,
    { starts, numRows, chunkRows },
    async function* (bytes) {
      for await (const { row } of parseCsv(once(bytes), csv)) yield toRow(row);
    },
    signal,
  );
}
