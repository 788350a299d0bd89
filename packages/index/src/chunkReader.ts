import { isUtf8 } from 'node:buffer';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { StreamsError, throwIfAborted } from '@streams/core';

/** Exact-size reads over a stream of chunks, without preallocating what the stream may not have. */
export class ChunkReader {
  readonly #it: AsyncIterator<Uint8Array>;
  #head: Uint8Array = new Uint8Array(0);
  #done = false;
  /** Bytes consumed so far. */
  position = 0;

  constructor(chunks: AsyncIterable<Uint8Array>) {
    this.#it = chunks[Symbol.asyncIterator]();
  }

  /** `n` bytes, or fewer when the stream ends first. */
  async read(n: number, signal?: AbortSignal): Promise<Uint8Array> {
    if (this.#head.length >= n) {
      const out = this.#head.subarray(0, n);
      this.#head = this.#head.subarray(n);
      this.position += n;
      return out;
    }
    const parts: Uint8Array[] = [this.#head];
    let have = this.#head.length;
    this.#head = new Uint8Array(0);
    while (have < n && !this.#done) {
      throwIfAborted(signal);
      const r = await this.#it.next();
      if (r.done) {
        this.#done = true;
        break;
      }
      parts.push(r.value);
      have += r.value.length;
    }
    const all = concat(parts, have);
    const out = all.subarray(0, Math.min(n, have));
    this.#head = all.subarray(out.length);
    this.position += out.length;
    return out;
  }

  /** Skips `n` bytes; returns how many were skipped. */
  async skip(n: number, signal?: AbortSignal): Promise<number> {
    let left = n;
    while (left > 0) {
      const got = await this.read(Math.min(left, 1 << 20), signal);
      if (got.length === 0) break;
      left -= got.length;
    }
    return n - left;
  }

  /** Stops the underlying stream (releases files and sockets). */
  async close(): Promise<void> {
    this.#done = true;
    await this.#it.return?.();
  }
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const nonEmpty = parts.filter((p) => p.length > 0);
  if (nonEmpty.length === 1) return nonEmpty[0] as Uint8Array;
  const out = new Uint8Array(total);
  let pos = 0;
  for (const p of nonEmpty) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

/** Bytes already in memory as a stream of one chunk, for the readers that take streams. */
export async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

/**
 * The chunks of `chunks`, the next one's read started before the current one is handed out, so
 * reading overlaps the consumer's work (the source must not reuse its chunk buffers).
 */
export async function* readAhead(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const it = chunks[Symbol.asyncIterator]();
  let next = it.next();
  try {
    for (;;) {
      const r = await next;
      if (r.done) return;
      next = it.next();
      yield r.value;
    }
  } finally {
    next.catch(() => {});
    await it.return?.();
  }
}

/** Gunzips a stream of chunks; corrupt input becomes `STREAMS_SHARD_CORRUPT`. */
export async function* gunzipChunks(
  chunks: AsyncIterable<Uint8Array>,
  where: { url?: string },
): AsyncGenerator<Uint8Array> {
  const gunzip = Readable.from(chunks, { objectMode: false }).pipe(createGunzip());
  try {
    for await (const c of gunzip) yield c as Uint8Array;
  } catch (cause) {
    if (cause instanceof StreamsError || (cause as Error)?.name === 'AbortError') throw cause;
    throw new StreamsError(
      'STREAMS_SHARD_CORRUPT',
      `[streams/index] cannot gunzip: ${(cause as Error)?.message ?? String(cause)}`,
      {
        cause,
        url: where.url,
        fix: 'the file is truncated or not gzip: download or write it again',
      },
    );
  } finally {
    gunzip.destroy();
  }
}

/** The chunks of a file, gunzipped when its name ends in `.gz`. */
export function gunzipIfGz(
  chunks: AsyncIterable<Uint8Array>,
  url: string,
): AsyncIterable<Uint8Array> {
  return /\.gz$/i.test(url) ? gunzipChunks(chunks, { url }) : chunks;
}

/** Bounds and UTF-8 policy of the text formats (CSV, JSONL, WebDataset text members). */
export interface TextOptions {
  /** Largest JSONL line or CSV record in bytes (default 64 MiB); past it, `STREAMS_INDEX_INVALID`. */
  maxLineBytes?: number;
  /** Largest CSV cell in bytes, quotes included (default 16 MiB); past it, `STREAMS_INDEX_INVALID`. */
  maxCellBytes?: number;
  /**
   * Text that is not UTF-8: `error` (default, as MDS: `STREAMS_DECODE_FAILED` naming the file and
   * line or member) or `replace` its bad bytes with U+FFFD.
   */
  invalidUtf8?: 'error' | 'replace';
}

/** Default bound of one CSV record or JSONL line. */
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024;

/** The `STREAMS_DECODE_FAILED` error for text that is not UTF-8. */
export function notUtf8(what: string, url: string | undefined): StreamsError {
  return new StreamsError('STREAMS_DECODE_FAILED', `[streams/index] ${what} is not valid UTF-8`, {
    url,
    fix: "re-encode the file as UTF-8, or read it with invalidUtf8: 'replace'",
  });
}

/** Decodes UTF-8 bytes under the `invalidUtf8` policy; `what` names them in the error. */
export function decodeUtf8(
  bytes: Uint8Array,
  invalidUtf8: TextOptions['invalidUtf8'],
  what: string,
  url?: string,
): string {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (invalidUtf8 !== 'replace' && !isUtf8(b)) throw notUtf8(what, url);
  return b.toString('utf8');
}

/** One line of text: its 1-based number and the byte offset where it starts. */
export interface TextLine {
  line: string;
  no: number;
  offset: number;
}

/**
 * Splits pushed byte chunks into lines (LF or CRLF): `onLine` gets each line's bytes `buf[start,
 * end)` (no line ending), its 1-based number and the byte offset where it starts. Only an
 * unfinished line is kept (copied) between chunks; one longer than `maxLineBytes` is
 * `STREAMS_INDEX_INVALID`.
 */
export class LineSplitter {
  #carry: Buffer[] = []; // the unfinished line's bytes
  #carried = 0;
  #no = 0;
  #base = 0; // offset of the current chunk in the input
  #lineStart = 0; // offset of the line being read
  readonly #maxLine: number;
  readonly url: string | undefined;

  constructor(
    options: TextOptions & { url?: string },
    private readonly onLine: (
      buf: Buffer,
      start: number,
      end: number,
      no: number,
      offset: number,
    ) => void,
  ) {
    this.#maxLine = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    this.url = options.url;
  }

  #line(buf: Buffer, start: number, end: number): void {
    if (end - start > this.#maxLine) throw this.#tooLong(this.#no);
    this.onLine(
      buf,
      start,
      end > start && buf[end - 1] === 0x0d ? end - 1 : end,
      this.#no,
      this.#lineStart,
    );
  }

  #tooLong(n: number): StreamsError {
    return new StreamsError(
      'STREAMS_INDEX_INVALID',
      `[streams/index] line ${n} is longer than maxLineBytes (${this.#maxLine} bytes)`,
      { url: this.url, fix: 'raise maxLineBytes if the file is trusted' },
    );
  }

  push(c: Uint8Array): void {
    const chunk = Buffer.from(c.buffer, c.byteOffset, c.byteLength);
    let start = 0;
    let nl = chunk.indexOf(0x0a);
    while (nl !== -1) {
      this.#no++;
      if (this.#carried > 0) {
        this.#carry.push(chunk.subarray(0, nl));
        const line = Buffer.concat(this.#carry);
        this.#carry = [];
        this.#carried = 0;
        this.#line(line, 0, line.length);
      } else this.#line(chunk, start, nl);
      start = nl + 1;
      this.#lineStart = this.#base + start;
      nl = chunk.indexOf(0x0a, start);
    }
    this.#base += chunk.length;
    if (start < chunk.length) {
      // Copied: the source may reuse its chunk buffers.
      this.#carry.push(Buffer.from(chunk.subarray(start)));
      this.#carried += chunk.length - start;
      if (this.#carried > this.#maxLine) throw this.#tooLong(this.#no + 1);
    }
  }

  /** Hands out the last line when the input does not end with a line break. */
  end(): void {
    if (this.#carried === 0) return;
    this.#no++;
    const line = Buffer.concat(this.#carry);
    this.#carry = [];
    this.#carried = 0;
    this.#line(line, 0, line.length);
  }
}

/**
 * Splits UTF-8 chunks into lines (LF or CRLF), with 1-based line numbers and byte offsets. Lines
 * are cut from the bytes and decoded once each; only an unfinished line is kept between chunks, and
 * one longer than `maxLineBytes` is `STREAMS_INDEX_INVALID`.
 */
export async function* textLines(
  chunks: AsyncIterable<Uint8Array>,
  options: TextOptions & { url?: string } = {},
): AsyncGenerator<TextLine> {
  for await (const lines of textLineBatches(chunks, options)) yield* lines;
}

/** {@link textLines}, the lines ended by each chunk at once (a promise per chunk, not per line). */
export async function* textLineBatches(
  chunks: AsyncIterable<Uint8Array>,
  options: TextOptions & { url?: string } = {},
): AsyncGenerator<TextLine[]> {
  const { url, invalidUtf8 } = options;
  let out: TextLine[] = [];
  const lines = new LineSplitter(options, (buf, start, end, no, offset) => {
    out.push({
      line: decodeUtf8(buf.subarray(start, end), invalidUtf8, `line ${no}`, url),
      no,
      offset,
    });
  });
  for await (const chunk of chunks) {
    // A bad line is thrown after the good lines before it are handed out, as line by line.
    let failed = false;
    let failure: unknown;
    try {
      lines.push(chunk);
    } catch (e) {
      failed = true;
      failure = e;
    }
    const batch = out;
    out = [];
    if (batch.length > 0) yield batch;
    if (failed) throw failure;
  }
  lines.end();
  if (out.length > 0) yield out;
}
