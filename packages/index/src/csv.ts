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
 * A record as the tokenizer sees it, valid only during the callback: field f's content is the byte
 * runs `runs[2r], runs[2r+1]` of `buf` for r in [ends[f-1]/2, ends[f]/2) (one run, or none when
 * empty, unless the field holds escaped quotes). No string is made unless a reader asks.
 */
export interface CsvRecordView {
  buf: Buffer;
  /** Number of fields. */
  count: number;
  runs: Int32Array; // [pairs] [start, end) byte runs of the record's fields
  ends: Int32Array; // [count] index in runs after each field's last run
  /** No byte of the record is >= 0x80. */
  ascii: boolean;
  line: number;
  offset: number;
}

/** Field f of a record as a string (UTF-8, already validated, or replaced under the 'replace' policy). */
export function csvFieldText(r: CsvRecordView, f: number): string {
  let k = f === 0 ? 0 : (r.ends[f - 1] as number);
  const stop = r.ends[f] as number;
  const enc = r.ascii ? 'latin1' : 'utf8';
  if (stop - k === 2) return r.buf.toString(enc, r.runs[k] as number, r.runs[k + 1] as number);
  let value = '';
  for (; k < stop; k += 2)
    value += r.buf.toString(enc, r.runs[k] as number, r.runs[k + 1] as number);
  return value;
}

/**
 * The RFC 4180 state machine behind {@link parseCsv}: `push` chunks, then `end`; each record is
 * handed to `onRecord` as a view of the buffered bytes (no per-field strings). Only the record
 * being read is kept between chunks, so memory stays within `maxLineBytes` and a chunk.
 */
export class CsvTokenizer {
  readonly #D: number;
  readonly #url: string | undefined;
  readonly #maxCell: number;
  readonly #maxLine: number;
  readonly #strict: boolean;
  #buf: Buffer = Buffer.allocUnsafe(1 << 16);
  #owned = true; // false while #buf is a caller's chunk
  #len = 0;
  #base = 0; // offset in the input of buf[0]
  #pos = 0; // next byte to read
  #rowStart = 0;
  #fieldStart = 0;
  // Content of the current field: closed runs in `runs`, and the open one from runStart.
  #runStart = -1;
  #runs = new Int32Array(64);
  #nRuns = 0; // entries used in runs (2 per run)
  #ends = new Int32Array(16);
  #nFields = 0;
  #fieldRunBase = 0;
  #high = 0; // OR of the record's content bytes: < 0x80 when it is ASCII
  #inQuotes = false;
  #quoteSeen = false; // the previous byte closed a quoted section (a following quote is an escape)
  #line = 1;
  #rowLine = 1;
  #bomChecked = false;
  readonly #view: CsvRecordView;

  constructor(
    options: CsvParseOptions,
    private readonly onRecord: (r: CsvRecordView) => void,
  ) {
    const delim = options.delimiter ?? ',';
    const D = delim.charCodeAt(0);
    if (delim.length !== 1 || D >= 0x80 || D === QUOTE || D === LF || D === CR)
      throw new StreamsError(
        'STREAMS_INVALID_ARGUMENT',
        `[streams/index] bad CSV delimiter "${delim}"`,
        { fix: 'use one ASCII character such as "," or "\\t"' },
      );
    this.#D = D;
    this.#url = options.url;
    this.#maxCell = options.maxCellBytes ?? DEFAULT_MAX_CELL_BYTES;
    this.#maxLine = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    this.#strict = options.invalidUtf8 !== 'replace';
    this.#view = {
      buf: this.#buf,
      count: 0,
      runs: this.#runs,
      ends: this.#ends,
      ascii: true,
      line: 0,
      offset: 0,
    };
  }

  #tooLarge(what: string, limit: number, option: string): StreamsError {
    return new StreamsError(
      'STREAMS_INDEX_INVALID',
      `[streams/index] CSV ${what} starting on line ${this.#rowLine} is larger than ${option} (${limit} bytes)`,
      {
        url: this.#url,
        fix: `raise ${option} if the file is trusted, or check that its quotes are balanced`,
      },
    );
  }

  #closeRun(at: number): void {
    if (this.#runStart < 0) return;
    if (this.#nRuns + 2 > this.#runs.length) {
      const next = new Int32Array(this.#runs.length * 2);
      next.set(this.#runs);
      this.#runs = next;
    }
    this.#runs[this.#nRuns++] = this.#runStart;
    this.#runs[this.#nRuns++] = at;
    this.#runStart = -1;
  }

  #endField(at: number): void {
    this.#closeRun(at);
    if (at - this.#fieldStart > this.#maxCell)
      throw this.#tooLarge('cell', this.#maxCell, 'maxCellBytes');
    if (this.#nFields === this.#ends.length) {
      const next = new Int32Array(this.#ends.length * 2);
      next.set(this.#ends);
      this.#ends = next;
    }
    this.#ends[this.#nFields++] = this.#nRuns;
    this.#fieldRunBase = this.#nRuns;
  }

  #endRow(end: number): void {
    const rowStart = this.#rowStart;
    if (end - rowStart > this.#maxLine)
      throw this.#tooLarge('record', this.#maxLine, 'maxLineBytes');
    const ascii = this.#high < 0x80;
    if (!ascii && this.#strict && !isUtf8(this.#buf.subarray(rowStart, end)))
      throw notUtf8(`CSV line ${this.#rowLine}`, this.#url);
    // A blank line (one empty field) is no record.
    if (!(this.#nFields === 1 && this.#nRuns === 0)) {
      const v = this.#view;
      v.buf = this.#buf;
      v.count = this.#nFields;
      v.runs = this.#runs;
      v.ends = this.#ends;
      v.ascii = ascii;
      v.line = this.#rowLine;
      v.offset = this.#base + rowStart;
      this.onRecord(v);
    }
    this.#nRuns = 0;
    this.#nFields = 0;
    this.#fieldRunBase = 0;
    this.#high = 0;
    this.#rowStart = end;
    this.#fieldStart = end;
  }

  /** Reads buf[pos, len); at the end of the input (`eof`), a final CR is a line ending. */
  #scan(eof: boolean): void {
    const buf = this.#buf;
    const len = this.#len;
    const D = this.#D;
    let pos = this.#pos;
    while (pos < len) {
      if (this.#inQuotes) {
        let p = pos;
        let high = 0;
        while (p < len) {
          const c = buf[p] as number;
          if (c === QUOTE) break;
          if (c === LF) this.#line++;
          high |= c;
          p++;
        }
        this.#high |= high;
        if (p > pos && this.#runStart < 0) this.#runStart = pos;
        pos = p;
        if (pos === len) break;
        this.#closeRun(pos);
        this.#inQuotes = false;
        this.#quoteSeen = true;
        pos++;
        continue;
      }
      const b = buf[pos] as number;
      if (b === QUOTE) {
        if (this.#quoteSeen) {
          // An escaped quote: this quote is data, and the quoted section goes on.
          if (this.#runStart < 0) this.#runStart = pos;
          this.#inQuotes = true;
          this.#quoteSeen = false;
        } else if (this.#runStart < 0 && this.#nRuns === this.#fieldRunBase) {
          this.#inQuotes = true; // opens a quoted section
        } else if (this.#runStart < 0) this.#runStart = pos; // a stray quote inside an unquoted field is kept, as most readers do
        pos++;
        continue;
      }
      this.#quoteSeen = false;
      if (b === D) {
        this.#endField(pos);
        this.#fieldStart = ++pos;
      } else if (b === LF) {
        this.#endField(pos);
        this.#endRow(++pos);
        this.#line++;
        this.#rowLine = this.#line;
      } else if (b === CR) {
        // CRLF ends the record at the LF; a lone CR is data; a CR ending the input ends it.
        if (pos + 1 === len && !eof) break; // the next chunk tells which
        if (pos + 1 === len || buf[pos + 1] === LF) this.#closeRun(pos);
        else if (this.#runStart < 0) this.#runStart = pos;
        pos++;
      } else {
        if (this.#runStart < 0) this.#runStart = pos;
        let p = pos + 1;
        let high = b;
        while (p < len) {
          const c = buf[p] as number;
          if (c === D || c === QUOTE || c === LF || c === CR) break;
          high |= c;
          p++;
        }
        this.#high |= high;
        pos = p;
      }
    }
    this.#pos = pos;
  }

  #append(chunk: Uint8Array): void {
    const rowStart = this.#rowStart;
    const keep = this.#len - rowStart;
    if (keep === 0 && chunk.length > this.#buf.length) {
      // Nothing carried over: read the chunk where it is (it is never written to).
      this.#buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      this.#owned = false;
      this.#base += this.#len;
      this.#pos = this.#fieldStart = this.#rowStart = 0;
      this.#len = chunk.length;
      return;
    }
    if (keep + chunk.length > this.#buf.length || !this.#owned) {
      this.#owned = true;
      const next = Buffer.allocUnsafe(Math.max(1 << 16, this.#buf.length * 2, keep + chunk.length));
      this.#buf.copy(next, 0, rowStart, this.#len);
      this.#buf = next;
    } else if (rowStart > 0) this.#buf.copyWithin(0, rowStart, this.#len);
    if (rowStart > 0) {
      // Offsets move with the bytes.
      this.#base += rowStart;
      this.#pos -= rowStart;
      this.#fieldStart -= rowStart;
      if (this.#runStart >= 0) this.#runStart -= rowStart;
      for (let k = 0; k < this.#nRuns; k++) this.#runs[k] = (this.#runs[k] as number) - rowStart;
      this.#rowStart = 0;
    }
    this.#buf.set(chunk, keep);
    this.#len = keep + chunk.length;
  }

  #checkBounds(): void {
    if (this.#pos - this.#fieldStart > this.#maxCell)
      throw this.#tooLarge('cell', this.#maxCell, 'maxCellBytes');
    if (this.#pos - this.#rowStart > this.#maxLine)
      throw this.#tooLarge('record', this.#maxLine, 'maxLineBytes');
  }

  #skipBom(eof: boolean): boolean {
    if (this.#len < 3 && !eof) return false;
    const buf = this.#buf;
    if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf)
      this.#pos = this.#rowStart = this.#fieldStart = 3;
    return true;
  }

  /** Reads a chunk, handing each record it completes to `onRecord`. */
  push(chunk: Uint8Array): void {
    this.#append(chunk);
    if (!this.#bomChecked) this.#bomChecked = this.#skipBom(false);
    if (this.#bomChecked) this.#scan(false);
    this.#checkBounds();
  }

  /** Ends the input: the last record (without a line ending) is handed over. */
  end(): void {
    if (!this.#bomChecked) this.#skipBom(true);
    this.#scan(true);
    this.#checkBounds();
    if (this.#inQuotes)
      throw new StreamsError(
        'STREAMS_INDEX_INVALID',
        `[streams/index] CSV quoted field opened on line ${this.#rowLine} is never closed`,
        { url: this.#url, fix: 'close the quote or escape it as ""' },
      );
    if (this.#runStart >= 0 || this.#nRuns > 0 || this.#nFields > 0) {
      this.#endField(this.#pos);
      this.#endRow(this.#pos);
    }
  }
}

/**
 * RFC 4180 CSV rows from a stream of UTF-8 chunks: quoted fields with embedded delimiters, quotes
 * (`""`) and newlines; LF or CRLF; a leading BOM is dropped. Yields each record with the line it
 * starts on and its byte offset (where a later read of the record can start). One pass over the
 * bytes (see {@link CsvTokenizer}): fields are cut from the buffer and decoded once each.
 */
export async function* parseCsv(
  chunks: AsyncIterable<Uint8Array>,
  options: CsvParseOptions = {},
): AsyncGenerator<CsvRecord> {
  const out: CsvRecord[] = [];
  const t = new CsvTokenizer(options, (r) => {
    const row: string[] = new Array(r.count);
    for (let f = 0; f < r.count; f++) row[f] = csvFieldText(r, f);
    out.push({ row, line: r.line, offset: r.offset });
  });
  for await (const chunk of chunks) {
    throwIfAborted(options.signal);
    t.push(chunk);
    for (const r of out) yield r;
    out.length = 0;
  }
  t.end();
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
  return mergeCsvType(
    type,
    INT.test(v) && Number.isSafeInteger(Number(v))
      ? 'int'
      : FLOAT.test(v)
        ? 'float'
        : v === 'true' || v === 'false' || v === 'True' || v === 'False'
          ? 'bool'
          : 'string',
  );
}

/** The narrowest type holding values of `type` (undefined before any) and of `t`. */
export function mergeCsvType(type: CsvType | undefined, t: CsvType): CsvType {
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
