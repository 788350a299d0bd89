import { isUtf8 } from 'node:buffer';
import { StreamsError, throwIfAborted } from '@streams/core';
import { DEFAULT_MAX_LINE_BYTES, notUtf8, type TextOptions } from './chunkReader.js';

/** Options of {@link parseCsv}. */
export interface CsvParseOptions extends TextOptions {
  /** Field separator, one ASCII character (default `,`; `\t` for TSV). */
  delimiter?: string;
  /** For error messages. */
  url?: string;
  signal?: AbortSignal;
}

/** One CSV record: its fields, the line it starts on and the byte offset where it starts. */
export interface CsvRecord {
  row: string[];
  line: number;
  offset: number;
}

/** Default bound of one CSV cell. */
export const DEFAULT_MAX_CELL_BYTES = 16 * 1024 * 1024;

const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;

/**
 * RFC 4180 CSV rows from a stream of UTF-8 chunks: quoted fields with embedded delimiters, quotes
 * (`""`) and newlines; LF or CRLF; a leading BOM is dropped. Yields each record with the line it
 * starts on and its byte offset (where a later read of the record can start). One pass over the bytes: fields are cut from the buffer and decoded once each (a
 * record of ASCII text once in all), and only the record being read is kept between chunks, so
 * memory stays within `maxLineBytes` and a chunk.
 */
export async function* parseCsv(
  chunks: AsyncIterable<Uint8Array>,
  options: CsvParseOptions = {},
): AsyncGenerator<CsvRecord> {
  const delim = options.delimiter ?? ',';
  const D = delim.charCodeAt(0);
  if (delim.length !== 1 || D >= 0x80 || D === QUOTE || D === LF || D === CR)
    throw new StreamsError(
      'STREAMS_INVALID_ARGUMENT',
      `[streams/index] bad CSV delimiter "${delim}"`,
      {
        fix: 'use one ASCII character such as "," or "\\t"',
      },
    );
  const { url } = options;
  const maxCell = options.maxCellBytes ?? DEFAULT_MAX_CELL_BYTES;
  const maxLine = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const strict = options.invalidUtf8 !== 'replace';
  const tooLarge = (what: string, limit: number, option: string) =>
    new StreamsError(
      'STREAMS_INDEX_INVALID',
      `[streams/index] CSV ${what} starting on line ${rowLine} is larger than ${option} (${limit} bytes)`,
      { url, fix: `raise ${option} if the file is trusted, or check that its quotes are balanced` },
    );

  // The bytes of the record being read (from rowStart) and of the chunk after it.
  let buf = Buffer.allocUnsafe(1 << 16);
  let len = 0;
  let base = 0; // offset in the input of buf[0]
  let pos = 0; // next byte to read
  let rowStart = 0;
  let fieldStart = 0;
  // Content of the current field: closed runs [start, end) in `runs`, and the open one.
  let runStart = -1;
  let runs: number[] = []; // [pairs] runs of the record's fields, field by field
  let fieldEnds: number[] = []; // [fields] number of run entries at each field's end
  let fieldRunBase = 0;
  let high = 0; // OR of the record's content bytes: < 0x80 when it is ASCII
  let inQuotes = false;
  let quoteSeen = false; // the previous byte closed a quoted section (a following quote is an escape)
  let line = 1;
  let rowLine = 1;
  let bomChecked = false;
  const out: CsvRecord[] = [];

  const closeRun = (at: number) => {
    if (runStart >= 0) {
      runs.push(runStart, at);
      runStart = -1;
    }
  };
  const endField = (at: number) => {
    closeRun(at);
    if (at - fieldStart > maxCell) throw tooLarge('cell', maxCell, 'maxCellBytes');
    fieldEnds.push(runs.length);
    fieldRunBase = runs.length;
  };
  const decode = (a: number, b: number): string => buf.toString('utf8', a, b);
  const endRow = (end: number) => {
    if (end - rowStart > maxLine) throw tooLarge('record', maxLine, 'maxLineBytes');
    const ascii = high < 0x80;
    const text = ascii ? buf.toString('latin1', rowStart, end) : '';
    if (!ascii && strict && !isUtf8(buf.subarray(rowStart, end)))
      throw notUtf8(`CSV line ${rowLine}`, url);
    const row: string[] = new Array(fieldEnds.length);
    let r = 0;
    for (let f = 0; f < fieldEnds.length; f++) {
      const stop = fieldEnds[f] as number;
      let value = '';
      for (; r < stop; r += 2) {
        const a = runs[r] as number;
        const b = runs[r + 1] as number;
        value += ascii ? text.slice(a - rowStart, b - rowStart) : decode(a, b);
      }
      row[f] = value;
    }
    // A blank line is no record.
    if (!(row.length === 1 && row[0] === ''))
      out.push({ row, line: rowLine, offset: base + rowStart });
    runs = [];
    fieldEnds = [];
    fieldRunBase = 0;
    high = 0;
    rowStart = end;
    fieldStart = end;
  };

  /** Reads buf[pos, len); at the end of the input (`eof`), a final CR is a line ending. */
  const scan = (eof: boolean) => {
    while (pos < len) {
      if (inQuotes) {
        let p = pos;
        while (p < len) {
          const c = buf[p] as number;
          if (c === QUOTE) break;
          if (c === LF) line++;
          high |= c;
          p++;
        }
        if (p > pos && runStart < 0) runStart = pos;
        pos = p;
        if (pos === len) return;
        closeRun(pos);
        inQuotes = false;
        quoteSeen = true;
        pos++;
        continue;
      }
      const b = buf[pos] as number;
      if (b === QUOTE) {
        if (quoteSeen) {
          // An escaped quote: this quote is data, and the quoted section goes on.
          if (runStart < 0) runStart = pos;
          inQuotes = true;
          quoteSeen = false;
        } else if (runStart < 0 && runs.length === fieldRunBase) {
          inQuotes = true; // opens a quoted section
        } else if (runStart < 0) runStart = pos; // a stray quote inside an unquoted field is kept, as most readers do
        pos++;
        continue;
      }
      quoteSeen = false;
      if (b === D) {
        endField(pos);
        fieldStart = ++pos;
      } else if (b === LF) {
        endField(pos);
        endRow(++pos);
        line++;
        rowLine = line;
      } else if (b === CR) {
        // CRLF ends the record at the LF; a lone CR is data; a CR ending the input ends it.
        if (pos + 1 === len && !eof) return; // the next chunk tells which
        if (pos + 1 === len || buf[pos + 1] === LF) closeRun(pos);
        else if (runStart < 0) runStart = pos;
        pos++;
      } else {
        if (runStart < 0) runStart = pos;
        let p = pos + 1;
        while (p < len) {
          const c = buf[p] as number;
          if (c === D || c === QUOTE || c === LF || c === CR) break;
          high |= c;
          p++;
        }
        high |= b;
        pos = p;
      }
    }
  };

  const append = (chunk: Uint8Array) => {
    const keep = len - rowStart;
    if (keep + chunk.length > buf.length) {
      const next = Buffer.allocUnsafe(Math.max(buf.length * 2, keep + chunk.length));
      buf.copy(next, 0, rowStart, len);
      buf = next;
    } else if (rowStart > 0) buf.copyWithin(0, rowStart, len);
    if (rowStart > 0) {
      // Offsets move with the bytes.
      base += rowStart;
      pos -= rowStart;
      fieldStart -= rowStart;
      if (runStart >= 0) runStart -= rowStart;
      for (let k = 0; k < runs.length; k++) runs[k] = (runs[k] as number) - rowStart;
      rowStart = 0;
    }
    buf.set(chunk, keep);
    len = keep + chunk.length;
  };
  const checkBounds = () => {
    if (pos - fieldStart > maxCell) throw tooLarge('cell', maxCell, 'maxCellBytes');
    if (pos - rowStart > maxLine) throw tooLarge('record', maxLine, 'maxLineBytes');
  };
  const skipBom = (eof: boolean): boolean => {
    if (len < 3 && !eof) return false;
    if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) pos = rowStart = fieldStart = 3;
    return true;
  };

  for await (const chunk of chunks) {
    throwIfAborted(options.signal);
    append(chunk);
    if (!bomChecked) bomChecked = skipBom(false);
    if (bomChecked) scan(false);
    checkBounds();
    for (const r of out) yield r;
    out.length = 0;
  }
  if (!bomChecked) skipBom(true);
  scan(true);
  checkBounds();
  if (inQuotes)
    throw new StreamsError(
      'STREAMS_INDEX_INVALID',
      `[streams/index] CSV quoted field opened on line ${rowLine} is never closed`,
      { url, fix: 'close the quote or escape it as ""' },
    );
  if (runStart >= 0 || runs.length > 0 || fieldEnds.length > 0) {
    endField(pos);
    endRow(pos);
  }
  for (const r of out) yield r;
}

/** Column types inferred from CSV text. */
export type CsvType = 'int' | 'float' | 'bool' | 'string';

const INT = /^[+-]?\d+$/;
const FLOAT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?(inf|infinity|nan)$/i;

/** The narrowest type holding every non-empty value (empty cells are nulls). */
export function inferCsvType(values: Iterable<string>): CsvType {
  let type: CsvType | undefined;
  for (const v of values) {
    type = widenCsvType(type, v);
    if (type === 'string') return type;
  }
  return type ?? 'string';
}

/** The narrowest type holding the values typed so far (`type`, undefined before any) and `v`. */
export function widenCsvType(type: CsvType | undefined, v: string): CsvType | undefined {
  if (v === '' || type === 'string') return type;
  const t: CsvType =
    INT.test(v) && Number.isSafeInteger(Number(v))
      ? 'int'
      : FLOAT.test(v)
        ? 'float'
        : v === 'true' || v === 'false' || v === 'True' || v === 'False'
          ? 'bool'
          : 'string';
  if (type === undefined || type === t) return t;
  if ((type === 'int' && t === 'float') || (type === 'float' && t === 'int')) return 'float';
  return 'string';
}

/** Converts a cell to its column type; empty cells are null. */
export function convertCsvCell(type: CsvType, v: string): string | number | boolean | null {
  if (v === '') return null;
  switch (type) {
    case 'int':
      return INT.test(v) ? Number(v) : v;
    case 'float': {
      const l = v.toLowerCase().replace(/^\+/, '');
      if (l === 'inf' || l === 'infinity') return Number.POSITIVE_INFINITY;
      if (l === '-inf' || l === '-infinity') return Number.NEGATIVE_INFINITY;
      if (l === 'nan' || l === '-nan') return Number.NaN;
      const n = Number(v);
      return Number.isNaN(n) ? v : n;
    }
    case 'bool':
      return v === 'true' || v === 'True' ? true : v === 'false' || v === 'False' ? false : v;
    case 'string':
      return v;
  }
}
