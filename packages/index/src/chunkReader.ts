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

/** Decodes UTF-8 chunks into lines (LF or CRLF), with 1-based line numbers. */
export async function* textLines(
  chunks: AsyncIterable<Uint8Array>,
): AsyncGenerator<{ line: string; no: number }> {
  const dec = new TextDecoder('utf-8');
  let rest = '';
  let no = 0;
  for await (const c of chunks) {
    rest += dec.decode(c, { stream: true });
    let nl = rest.indexOf('\n');
    while (nl !== -1) {
      no++;
      const line = rest.slice(0, nl);
      yield { line: line.endsWith('\r') ? line.slice(0, -1) : line, no };
      rest = rest.slice(nl + 1);
      nl = rest.indexOf('\n');
    }
  }
  rest += dec.decode();
  if (rest.length > 0) yield { line: rest.endsWith('\r') ? rest.slice(0, -1) : rest, no: no + 1 };
}
