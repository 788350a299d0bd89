import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isAbortError, redactUrl, StreamsError, throwIfAborted } from '@streams/core';
import { transformsEvents } from './events.js';

/**
 * Ranged reads of remote objects. `FetchEngine` of `@streams/downloader` has this shape, so its
 * drivers (and their credentials, signing and retries) do the reading; this package never fetches.
 */
export interface RangedReader {
  /** The object's size in bytes. */
  stat(url: string, options?: { signal?: AbortSignal | undefined }): Promise<{ size: number }>;
  /** `length` bytes from `offset`. */
  read(
    url: string,
    options: { offset?: number; length?: number; signal?: AbortSignal | undefined },
  ): Promise<Uint8Array>;
}

/**
 * A remote media object read by ranges: ffmpeg seeks in it (index, then the clip's bytes) instead
 * of the whole object being downloaded. `url` is only handed to `reader`, never to ffmpeg.
 */
export interface RemoteMedia {
  url: string;
  reader: RangedReader;
  /** Size in bytes when known (saves a `stat`). */
  size?: number;
}

/** True for a {@link RemoteMedia} input. */
export function isRemoteMedia(v: unknown): v is RemoteMedia {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as { url?: unknown }).url === 'string' &&
    typeof (v as { reader?: { read?: unknown } }).reader?.read === 'function'
  );
}

/** Bytes per ranged read. */
const BLOCK = 256 << 10;
/** Blocks kept per served object (the index is read by the probe and again by the decode). */
const CACHE_BLOCKS = 8;
/** The largest response, in blocks; see {@link ServedMedia}. */
const MAX_WINDOW = 16;

/** A remote object served to ffmpeg on loopback while one decode runs. */
export interface ServedMedia extends AsyncDisposable {
  /** `http://127.0.0.1:<port>/<token>/media<.ext>`: no credentials, unguessable, valid until closed. */
  readonly url: string;
  /** Bytes read from the remote so far. */
  readonly bytesRead: number;
  /** Ranged reads made so far. */
  readonly reads: number;
  /** The first read failure, which is the real cause of an ffmpeg failure that follows. */
  readonly error: unknown;
  close(): Promise<void>;
}

const servedUrls = new Set<string>();

/**
 * ffmpeg/ffprobe input options for a served URL: responses end at a window (see
 * {@link serveRemoteMedia}), after which ffmpeg reconnects at once where it stopped; a failed
 * reconnect fails the read instead of backing off for minutes.
 */
export function servedInputOptions(input: unknown): string[] {
  return typeof input === 'string' && servedUrls.has(input)
    ? ['-reconnect', '1', '-reconnect_delay_max', '0']
    : [];
}

/** ffmpeg's log lines about those expected reconnects (not errors of the input). */
export const RECONNECT_CHATTER = /Stream ends prematurely at|Will reconnect at/;

/**
 * Serves `media` on a loopback `node:http` endpoint with an unguessable path, answering ffmpeg's
 * Range requests with ranged reads through `media.reader` and counting the bytes. Each response
 * ends after a window of blocks, which doubles while ffmpeg keeps reading on and shrinks back to
 * one block on a seek: an open-ended response would be read ahead into the socket buffers (most of
 * the object on loopback), while ffmpeg needs only the index and the clip's range.
 */
export async function serveRemoteMedia(
  media: RemoteMedia,
  options: { signal?: AbortSignal | undefined } = {},
): Promise<ServedMedia> {
  const { reader, url } = media;
  const safeUrl = redactUrl(url);
  throwIfAborted(options.signal);
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  const size = media.size ?? (await reader.stat(url, { signal })).size;
  if (!(Number.isSafeInteger(size) && size >= 0))
    throw new StreamsError(
      'STREAMS_INVALID_ARGUMENT',
      `[streams/transforms] ${safeUrl} has no usable size (${size})`,
      { url: safeUrl },
    );
  const blocks = new Map<number, Promise<Uint8Array>>(); // LRU: oldest first
  const state = { bytesRead: 0, reads: 0, error: undefined as unknown };
  const block = (i: number): Promise<Uint8Array> => {
    const hit = blocks.get(i);
    if (hit) {
      blocks.delete(i);
      blocks.set(i, hit);
      return hit;
    }
    const offset = i * BLOCK;
    const length = Math.min(BLOCK, size - offset);
    state.reads++;
    const p = reader.read(url, { offset, length, signal }).then((bytes) => {
      state.bytesRead += bytes.byteLength;
      if (bytes.byteLength !== length)
        throw new StreamsError(
          'STREAMS_NETWORK',
          `[streams/transforms] ${safeUrl}: a ranged read at ${offset} gave ${bytes.byteLength} bytes, not ${length}`,
          { url: safeUrl, fix: 'the object changed while it was read: read it again' },
        );
      return bytes;
    });
    p.catch((err: unknown) => {
      state.error ??= err;
      if (blocks.get(i) === p) blocks.delete(i);
    });
    blocks.set(i, p);
    if (blocks.size > CACHE_BLOCKS) blocks.delete(blocks.keys().next().value!);
    return p;
  };

  const name = `/${randomBytes(16).toString('hex')}/media${extensionOf(url)}`;
  let nextStart = -1; // where the last response ended: a request there reads on
  let window = 1;
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if (req.url !== name) return void res.writeHead(404).end();
    if (req.method !== 'GET') return void res.writeHead(405).end();
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? 'bytes=0-');
    const start = m ? Number(m[1]) : 0;
    const asked = m?.[2] ? Number(m[2]) + 1 : size;
    if (start >= size || asked <= start)
      return void res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
    window = start === nextStart ? Math.min(window * 2, MAX_WINDOW) : 1;
    const first = Math.floor(start / BLOCK);
    const end = Math.min(asked, size, (first + window) * BLOCK);
    nextStart = end;
    let next = block(first);
    try {
      await next; // a failed first read answers 502 before any header
    } catch {
      return void res.writeHead(502).end();
    }
    res.writeHead(206, {
      'Accept-Ranges': 'bytes',
      'Content-Type': 'application/octet-stream',
      'Content-Length': end - start,
      'Content-Range': `bytes ${start}-${end - 1}/${size}`,
    });
    try {
      for (let i = first; i * BLOCK < end && !res.destroyed; i++) {
        const bytes = await next;
        // Read the next block while this one is written: it is inside the window ffmpeg asked for.
        if ((i + 1) * BLOCK < end) next = block(i + 1);
        const from = Math.max(start - i * BLOCK, 0);
        const to = Math.min(end - i * BLOCK, bytes.byteLength);
        if (!res.write(bytes.subarray(from, to)))
          await new Promise<void>((resolve) => {
            res.once('drain', resolve);
            res.once('close', resolve);
          });
      }
      res.end();
    } catch {
      res.destroy();
    }
  };
  const server = createServer((req, res) => {
    void handle(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const local = `http://127.0.0.1:${(server.address() as AddressInfo).port}${name}`;
  servedUrls.add(local);
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    servedUrls.delete(local);
    stop.abort();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    transformsEvents.emit({
      kind: 'progress',
      name: 'remote.read',
      bytes: state.bytesRead,
      attrs: { url: safeUrl, size, reads: state.reads },
    });
  };
  return {
    url: local,
    get bytesRead() {
      return state.bytesRead;
    },
    get reads() {
      return state.reads;
    },
    get error() {
      return state.error;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** The object's extension (`.mp4`), which ffmpeg may use to pick a demuxer; never its query. */
function extensionOf(url: string): string {
  let path = url;
  try {
    path = new URL(url).pathname;
  } catch {
    // not a URL: take the text as a path
  }
  return /\.[A-Za-z0-9]{1,8}$/.exec(path)?.[0] ?? '';
}

/**
 * Runs `fn` on the input as ffmpeg can open it: a {@link RemoteMedia} is served on loopback for
 * the duration of `fn` (given the served object, for its byte counts); other inputs pass as they are.
 */
export async function withRemoteMedia<I, T>(
  input: I | RemoteMedia,
  signal: AbortSignal | undefined,
  fn: (input: I | string, served: ServedMedia | undefined) => Promise<T>,
): Promise<T> {
  if (!isRemoteMedia(input)) return fn(input, undefined);
  await using served = await serveRemoteMedia(input, { signal });
  try {
    return await fn(served.url, served);
  } catch (err) {
    // ffmpeg only saw a broken connection: the reader's error says what went wrong.
    throw served.error === undefined || isAbortError(err) ? err : served.error;
  }
}
