import { StreamsError, throwIfAborted } from '@streams/core';

/** Options of {@link parseCsv}. */
export interface CsvParseOptions {
  /** Field separator (default `,`; `\t` for TSV). */
  delimiter?: string;
  /** For error messages. */
  url?: string;
  signal?: AbortSignal;
}

/**
 * RFC 4180 CSV rows from a stream of UTF-8 chunks: quoted fields with embedded delimiters, quotes
 * (`""`) and newlines; LF or CRLF; a leading BOM is dropped. Yields each record with the line it starts on.
 */
export async function* parseCsv(
  chunks: AsyncIterable<Uint8Array>,
  options: CsvParseOptions = {},
): AsyncGenerator<{ row: string[]; line: number }> {
  const delim = options.delimiter ?? ',';
  if (delim.length !== 1 || delim === '"' || delim === '\n')
    throw new StreamsError(
      'STREAMS_INVALID_ARGUMENT',
      `[streams/index] bad CSV delimiter "${delim}"`,
      {
        fix: 'use one character such as "," or "\\t"',
      },
    );
  const dec = new TextDecoder('utf-8');
  let row: string[] = [];
  let field = '';
  let inQuotes = false;
  let quoteSeen = false; // the previous char closed a quoted section (a following quote is an escape)
  let line = 1;
  let rowLine = 1;
  let first = true;
  let pendingCR = false;
  const out: { row: string[]; line: number }[] = [];
  const endRow = () => {
    row.push(field);
    field = '';
    // A blank line is no record.
    if (!(row.length === 1 && row[0] === '')) out.push({ row, line: rowLine });
    row = [];
  };
  for await (const chunk of chunks) {
    throwIfAborted(options.signal);
    let text = dec.decode(chunk, { stream: true });
    if (first) {
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      if (text.length > 0) first = false;
    }
    for (let i = 0; i < text.length; i++) {
      const c = text[i] as string;
      if (inQuotes) {
        if (c === '"') {
          inQuotes = false;
          quoteSeen = true;
        } else {
          if (c === '\n') line++;
          field += c;
        }
        continue;
      }
      if (c === '"') {
        if (quoteSeen) {
          field += '"';
          inQuotes = true;
          quoteSeen = false;
        } else if (field === '') {
          inQuotes = true;
        } else {
          field += c; // a stray quote inside an unquoted field is kept, as most readers do
        }
        continue;
      }
      quoteSeen = false;
      if (pendingCR && c !== '\n') pendingCR = false;
      if (c === delim) {
        row.push(field);
        field = '';
      } else if (c === '\n') {
        if (pendingCR) pendingCR = false;
        endRow();
        line++;
        rowLine = line;
      } else if (c === '\r') {
        // CRLF ends the record at the LF; a lone CR is kept as data.
        if (text[i + 1] === '\n' || i + 1 === text.length) pendingCR = true;
        else field += c;
      } else {
        field += c;
      }
    }
    for (const r of out) yield r;
    out.length = 0;
  }
  if (inQuotes)
    throw new StreamsError(
      'STREAMS_INDEX_INVALID',
      `[streams/index] CSV quoted field opened on line ${rowLine} is never closed`,
      { url: options.url, fix: 'close the quote or escape it as ""' },
    );
  if (field !== '' || row.length > 0) endRow();
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
    if (v === '') continue;
    const t: CsvType =
      INT.test(v) && Number.isSafeInteger(Number(v))
        ? 'int'
        : FLOAT.test(v)
          ? 'float'
          : v === 'true' || v === 'false' || v === 'True' || v === 'False'
            ? 'bool'
            : 'string';
    if (type === undefined) type = t;
    else if (type !== t) {
      if ((type === 'int' && t === 'float') || (type === 'float' && t === 'int')) type = 'float';
      else return 'string';
    }
    if (type === 'string') return type;
  }
  return type ?? 'string';
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
