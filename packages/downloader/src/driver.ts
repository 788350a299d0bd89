import type { Readable } from 'node:stream';
import { StreamsError, type StreamsErrorCode, type StreamsErrorOptions } from '@streams/core';

/** Metadata of one stored object. */
export interface ObjectStat {
  /** Size in bytes. */
  size: number;
  /** Entity tag (quotes removed) when the store gives one. */
  etag?: string | undefined;
  /** GCS object generation (or another store's version id). */
  generation?: string | undefined;
  lastModified?: Date | undefined;
}

/** One object found by {@link Driver.list}. */
export interface ListEntry extends ObjectStat {
  /** Full URL of the object, usable with the same driver. */
  url: string;
  /** Path of the object relative to the listed prefix's bucket or root. */
  key: string;
}

/**
 * A streamed object body: iterate it for chunks (once), or call `bytes()` to read it whole.
 * Always consume or `cancel()` it, else the connection stays open.
 */
export interface ObjectBody extends AsyncIterable<Uint8Array> {
  /** Number of bytes the body will yield, when the store says (Content-Length). */
  readonly size: number | undefined;
  readonly etag?: string | undefined;
  /**
   * Takes the underlying Node stream, when the body is one, for event-driven piping without a
   * promise per chunk (the engine's fast path). Marks the body as read; undefined otherwise.
   */
  takeReadable?(): Readable | undefined;
  /** Reads the whole body into memory. */
  bytes(): Promise<Uint8Array>;
  /** Releases the connection without reading the rest. */
  cancel(): Promise<void>;
}

/** One page of a listing (see {@link Driver.listPage}). */
export interface ListPage {
  entries: ListEntry[];
  /** The token of the next page; undefined after the last. */
  next: string | undefined;
}

/** Orders listing entries by URL (the order `Driver.list` returns). */
export function byUrl(a: ListEntry, b: ListEntry): number {
  return a.url < b.url ? -1 : a.url > b.url ? 1 : 0;
}

/** The whole listing from a driver's `listPage`, every page followed, sorted by URL. */
export async function listAllPages(
  listPage: NonNullable<Driver['listPage']>,
  prefix: string,
  options?: OperationOptions,
): Promise<ListEntry[]> {
  const out: ListEntry[] = [];
  let token: string | undefined;
  do {
    const page = await listPage(prefix, token, options);
    for (const e of page.entries) out.push(e);
    token = page.next;
  } while (token);
  return out.sort(byUrl);
}

/** Options every driver operation takes. */
export interface OperationOptions {
  signal?: AbortSignal | undefined;
}

/** Options of {@link Driver.put}. */
export interface PutOptions extends OperationOptions {
  /** Total size, when known: lets drivers pick a single request or a multipart upload. */
  size?: number | undefined;
  contentType?: string | undefined;
}

/** What {@link Driver.put} accepts: bytes or a stream of chunks. */
export type PutBody = Uint8Array | AsyncIterable<Uint8Array>;

/**
 * A storage backend for one or more URL schemes. Each operation makes one attempt (the fetch
 * engine adds retries, limits and integrity checks) and throws {@link TransferError}s.
 */
export interface Driver {
  /** Short name used in messages, e.g. `s3`. */
  readonly name: string;
  stat(url: string, options?: OperationOptions): Promise<ObjectStat>;
  /** True when the object exists; other failures (403, network) still throw. */
  exists(url: string, options?: OperationOptions): Promise<boolean>;
  /** Streams the whole object. */
  get(url: string, options?: OperationOptions): Promise<ObjectBody>;
  /** Streams `length` bytes starting at `offset`; a range past the end is an error. */
  getRange(
    url: string,
    offset: number,
    length: number,
    options?: OperationOptions,
  ): Promise<ObjectBody>;
  /**
   * Every object whose URL starts with `prefix`, sorted by URL, following all pages. A failed
   * page fails the whole listing: there are no partial lists.
   */
  list(prefix: string, options?: OperationOptions): Promise<ListEntry[]>;
  /**
   * One page of the listing of `prefix`, in the store's key order, starting at `token`
   * (undefined: the first page). The bucket stores (s3, gs) have it; the engine's `listEach`
   * uses it to stream a listing of any size in one page of memory, retrying a failed page alone.
   */
  listPage?(
    prefix: string,
    token: string | undefined,
    options?: OperationOptions,
  ): Promise<ListPage>;
  /** Writes an object (streamed; large objects use multipart uploads where the store has them). */
  put(url: string, body: PutBody, options?: PutOptions): Promise<ObjectStat>;
  /** Releases clients and sockets. */
  dispose?(): Promise<void>;
}

/** Details of a failed transfer that decide whether and when the engine retries. */
export interface TransferErrorOptions extends StreamsErrorOptions {
  /** HTTP status (or the store's equivalent). */
  status?: number | undefined;
  /** True when another attempt may succeed (5xx, resets, throttling, stalls). */
  retryable?: boolean | undefined;
  /** True when the store asked us to slow down (429, 503, SlowDown). */
  throttled?: boolean | undefined;
  /** The store's Retry-After, in milliseconds. */
  retryAfterMs?: number | undefined;
}

/** A failed driver operation, with what the engine needs to decide on a retry. */
export class TransferError extends StreamsError {
  override name = 'TransferError';
  readonly status: number | undefined;
  readonly retryable: boolean;
  readonly throttled: boolean;
  readonly retryAfterMs: number | undefined;

  constructor(code: StreamsErrorCode, message: string, options: TransferErrorOptions = {}) {
    super(code, message, options);
    this.status = options.status;
    this.throttled = options.throttled ?? false;
    this.retryable = options.retryable ?? this.throttled;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** Builds the TransferError for an HTTP-like status (shared by the http, s3 and gcs drivers). */
export function statusError(
  driver: string,
  op: string,
  url: string,
  status: number,
  extra: {
    retryAfter?: string | null | undefined;
    detail?: string | undefined;
    cause?: unknown;
  } = {},
): TransferError {
  const detail = extra.detail ? `: ${extra.detail}` : '';
  const head = `[streams/downloader] [${driver}] ${op} ${url} failed with HTTP ${status}${detail}`;
  if (status === 404 || status === 410)
    return new TransferError('STREAMS_NOT_FOUND', head, {
      url,
      status,
      cause: extra.cause,
      fix: 'check the URL, bucket and key; list the prefix to see what exists',
    });
  if (status === 401 || status === 403)
    return new TransferError('STREAMS_FORBIDDEN', head, {
      url,
      status,
      cause: extra.cause,
      fix: 'check the credentials configured for this host or bucket and their permissions',
    });
  if (status === 416)
    return new TransferError('STREAMS_INVALID_ARGUMENT', `${head} (range not satisfiable)`, {
      url,
      status,
      cause: extra.cause,
    });
  const throttled = status === 429 || status === 503;
  const retryable = throttled || status >= 500 || status === 408;
  return new TransferError('STREAMS_NETWORK', head, {
    url,
    status,
    cause: extra.cause,
    throttled,
    retryable,
    retryAfterMs: parseRetryAfter(extra.retryAfter),
  });
}

/** Parses a Retry-After header (seconds or an HTTP date) into milliseconds. */
export function parseRetryAfter(value: string | null | undefined): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : undefined;
}

/** Wraps a connection-level failure (reset, refused, premature close) as a retryable error. */
export function networkError(
  driver: string,
  op: string,
  url: string,
  cause: unknown,
): TransferError {
  const reason = describeCause(cause);
  return new TransferError(
    'STREAMS_NETWORK',
    `[streams/downloader] [${driver}] ${op} ${url} failed: ${reason}`,
    { url, cause, retryable: true },
  );
}

/** A short reason for a low-level error (its code and message, or its cause's). */
export function describeCause(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  const code = (cause as { code?: unknown }).code;
  const inner = cause.cause instanceof Error ? ` (${describeCause(cause.cause)})` : '';
  return `${typeof code === 'string' ? `${code} ` : ''}${cause.message}${inner}`;
}

/** Makes an {@link ObjectBody} from a chunk source. `cancel` must free the connection. */
export function makeBody(
  source: AsyncIterable<Uint8Array>,
  size: number | undefined,
  cancel: () => void | Promise<void>,
  etag?: string,
  readable?: Readable | (() => Readable),
): ObjectBody {
  let used = false;
  const take = (): AsyncIterable<Uint8Array> => {
    if (used)
      throw new StreamsError(
        'STREAMS_INVALID_ARGUMENT',
        '[streams/downloader] a body can be read once',
      );
    used = true;
    return source;
  };
  return {
    size,
    etag,
    [Symbol.asyncIterator]: () => take()[Symbol.asyncIterator](),
    async bytes() {
      const chunks: Uint8Array[] = [];
      let total = 0;
      for await (const chunk of take()) {
        chunks.push(chunk);
        total += chunk.byteLength;
      }
      return concatBytes(chunks, total);
    },
    async cancel() {
      used = true;
      await cancel();
    },
    takeReadable() {
      if (!readable || used) return undefined;
      used = true;
      return typeof readable === 'function' ? readable() : readable;
    },
  };
}

/** Concatenates chunks into one array (no copy when there is a single chunk). */
export function concatBytes(chunks: readonly Uint8Array[], total?: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total ?? chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** Removes the quotes S3 and HTTP put around ETags. */
export function cleanEtag(etag: string | null | undefined): string | undefined {
  if (!etag) return undefined;
  return etag.replace(/^W\//, '').replace(/^"|"$/g, '');
}

/** Throws STREAMS_INVALID_ARGUMENT for a negative or non-integer range. */
export function checkRange(driver: string, url: string, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0)
    throw new TransferError(
      'STREAMS_INVALID_ARGUMENT',
      `[streams/downloader] [${driver}] getRange ${url}: offset ${offset} and length ${length} must be non-negative integers`,
      { url },
    );
}

/**
 * The error for a range read whose answer announced `got` bytes instead of `length`: the object
 * ends before `offset + length`.
 */
export function shortRangeError(
  driver: string,
  url: string,
  offset: number,
  length: number,
  got: number,
): TransferError {
  return new TransferError(
    'STREAMS_INVALID_ARGUMENT',
    `[streams/downloader] [${driver}] GET ${url} bytes ${offset}..${offset + length}: the object is shorter (got ${got} bytes)`,
    { url, status: 416 },
  );
}

/**
 * `exists` for drivers whose `stat` fails with STREAMS_NOT_FOUND on a missing object: true
 * when `stat` succeeds, false when it finds nothing and `missing(err)` agrees (default: any
 * STREAMS_NOT_FOUND), and any other failure (403, network) thrown.
 */
export async function existsByStat(
  stat: () => Promise<unknown>,
  missing: (err: TransferError) => boolean = () => true,
): Promise<boolean> {
  try {
    await stat();
    return true;
  } catch (err) {
    if (err instanceof TransferError && err.code === 'STREAMS_NOT_FOUND' && missing(err))
      return false;
    throw err;
  }
}

/**
 * The first `limit` bytes of `source` as UTF-8 text (error bodies, listings). Reading stops at
 * `limit`, which also stops the source, so a huge body is not downloaded for a message. When
 * the source fails, `onError: 'partial'` returns what arrived instead of throwing.
 */
export async function readText(
  source: AsyncIterable<Uint8Array>,
  limit = Number.POSITIVE_INFINITY,
  onError: 'throw' | 'partial' = 'throw',
): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of source) {
      chunks.push(chunk);
      size += chunk.byteLength;
      if (size >= limit) break;
    }
  } catch (err) {
    if (onError === 'throw') throw err;
  }
  const all = Buffer.concat(chunks);
  return all.toString('utf8', 0, Math.min(all.byteLength, limit));
}

/** An empty body (for zero-length ranges). */
export function emptyBody(): ObjectBody {
  return makeBody((async function* () {})(), 0, () => {});
}

/** Skips `skip` bytes of a chunk source and yields the next `take` (for servers that ignore Range). */
export async function* sliceSource(
  source: AsyncIterable<Uint8Array>,
  skip: number,
  take: number,
): AsyncGenerator<Uint8Array> {
  let toSkip = skip;
  let left = take;
  for await (const chunk of source) {
    let c = chunk;
    if (toSkip > 0) {
      if (c.byteLength <= toSkip) {
        toSkip -= c.byteLength;
        continue;
      }
      c = c.subarray(toSkip);
      toSkip = 0;
    }
    if (c.byteLength > left) c = c.subarray(0, left);
    left -= c.byteLength;
    if (c.byteLength > 0) yield c;
    if (left <= 0) return;
  }
}
