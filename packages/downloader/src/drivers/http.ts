import { Readable } from 'node:stream';
import { isAbortError, signalReason, throwIfAborted } from '@streams/core';
import {
  checkRange,
  cleanEtag,
  type Driver,
  emptyBody,
  type ListEntry,
  makeBody,
  networkError,
  type ObjectBody,
  type ObjectStat,
  type OperationOptions,
  statusError,
  TransferError,
} from '../driver.js';
import { parseObjectUrl } from '../registry.js';

/** Driver name used in messages. */
export const NAME = 'http';

/** Credentials sent to one host. Never logged, never put in errors or events. */
export interface HttpCredentials {
  /** Sent as `Authorization: Bearer <token>`. */
  bearer?: string;
  /** Sent as `Authorization: Basic ...`. */
  basic?: { username: string; password: string };
  /** Extra headers, e.g. `{ "X-Api-Key": "..." }`. */
  headers?: Record<string, string>;
}

/** Options of {@link httpDriver}. */
export interface HttpDriverOptions {
  /**
   * Credentials per host, keyed by `host` or `host:port` (the more specific key wins). Merged
   * over the JSON object in the `STREAMS_HTTP_CREDENTIALS` environment variable, which has the
   * same shape. User info in a URL (`https://user:pass@host/`) is sent as basic auth.
   */
  credentials?: Record<string, HttpCredentials>;
  /** Headers sent with every request. */
  headers?: Record<string, string>;
  /** The fetch implementation (default: the global undici-based `fetch`). */
  fetch?: typeof fetch;
  /** How many HEAD requests a directory listing runs at once (default 8). */
  listConcurrency?: number;
}

/**
 * HTTP and HTTPS through `fetch` (undici). Ranges use `Range: bytes=`; `stat` uses HEAD (falling
 * back to a one-byte range GET); `list` reads HTML directory indexes (nginx/Apache autoindex and
 * the like) and follows sub-directories; `put` sends a streamed PUT.
 */
export function httpDriver(options: HttpDriverOptions = {}): Driver {
  const doFetch = options.fetch ?? globalThis.fetch;
  const creds = { ...credentialsFromEnv(), ...options.credentials };
  const listConcurrency = options.listConcurrency ?? 8;

  function prepare(
    url: string,
    extra: Record<string, string> = {},
  ): { target: string; headers: Headers } {
    const parsed = parseObjectUrl(url).url;
    // fetch refuses user info in URLs: move it into a header.
    const headers = new Headers({ 'accept-encoding': 'identity', ...options.headers });
    const c = creds[parsed.host] ?? creds[parsed.hostname];
    if (parsed.username || parsed.password) {
      const user = decodeURIComponent(parsed.username);
      const pass = decodeURIComponent(parsed.password);
      headers.set('authorization', `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`);
      parsed.username = '';
      parsed.password = '';
    } else if (c?.bearer) headers.set('authorization', `Bearer ${c.bearer}`);
    else if (c?.basic)
      headers.set(
        'authorization',
        `Basic ${Buffer.from(`${c.basic.username}:${c.basic.password}`).toString('base64')}`,
      );
    for (const [k, v] of Object.entries(c?.headers ?? {})) headers.set(k, v);
    for (const [k, v] of Object.entries(extra)) headers.set(k, v);
    parsed.hash = '';
    return { target: parsed.href, headers };
  }

  async function request(
    op: string,
    url: string,
    init: RequestInit & { extra?: Record<string, string> },
    signal: AbortSignal | undefined,
  ): Promise<Response> {
    throwIfAborted(signal);
    const { target, headers } = prepare(url, init.extra);
    try {
      return await doFetch(target, { ...init, headers, signal, redirect: 'follow' });
    } catch (err) {
      if (signal?.aborted) throw signalReason(signal);
      if (isAbortError(err)) throw err;
      throw networkError(NAME, op, url, err);
    }
  }

  async function fail(op: string, url: string, res: Response): Promise<never> {
    const detail = await res.text().then(
      (t) => t.replace(/\s+/g, ' ').trim().slice(0, 200),
      () => undefined,
    );
    throw statusError(NAME, op, url, res.status, {
      retryAfter: res.headers.get('retry-after'),
      detail,
    });
  }

  async function stat(url: string, o: OperationOptions = {}): Promise<ObjectStat> {
    const res = await request('HEAD', url, { method: 'HEAD' }, o.signal);
    if (res.ok) {
      const size = numberHeader(res.headers.get('content-length'));
      if (size !== undefined) return statOf(res, size);
    } else if (res.status !== 405 && res.status !== 501) return fail('HEAD', url, res);
    // No HEAD or no length: ask for the first byte and read the total from Content-Range.
    const ranged = await request(
      'GET',
      url,
      { method: 'GET', extra: { range: 'bytes=0-0' } },
      o.signal,
    );
    if (!ranged.ok && ranged.status !== 416) return fail('GET', url, ranged);
    await ranged.body?.cancel();
    const total = /\/(\d+)\s*$/.exec(ranged.headers.get('content-range') ?? '')?.[1];
    const size =
      total !== undefined ? Number(total) : numberHeader(ranged.headers.get('content-length'));
    if (size === undefined)
      throw new TransferError(
        'STREAMS_NETWORK',
        `[streams/downloader] [http] stat ${url}: the server sends no size`,
        {
          url,
          fix: 'serve Content-Length or support Range requests',
        },
      );
    return statOf(ranged, size);
  }

  function bodyOf(
    op: string,
    url: string,
    res: Response,
    size: number | undefined,
    /** Set when the server ignored Range: skip this many bytes, then keep `size`. */
    skip: number | undefined,
    signal: AbortSignal | undefined,
  ): ObjectBody {
    const stream = res.body;
    if (!stream) return makeBody((async function* () {})(), 0, () => {});
    return makeBody(
      guard(stream, op, url, skip, size, signal),
      size,
      () => stream.cancel().catch(() => {}),
      cleanEtag(res.headers.get('etag')),
      // Unsliced bodies can be piped as a Node stream by the engine (created only if asked).
      skip === undefined
        ? () => Readable.fromWeb(stream as import('node:stream/web').ReadableStream<Uint8Array>)
        : undefined,
    );
  }

  return {
    name: NAME,
    stat,
    async exists(url, o = {}) {
      try {
        await stat(url, o);
        return true;
      } catch (err) {
        if (err instanceof TransferError && err.code === 'STREAMS_NOT_FOUND') return false;
        throw err;
      }
    },
    async get(url, o = {}) {
      const res = await request('GET', url, { method: 'GET' }, o.signal);
      if (!res.ok) return fail('GET', url, res);
      return bodyOf(
        'GET',
        url,
        res,
        numberHeader(res.headers.get('content-length')),
        undefined,
        o.signal,
      );
    },
    async getRange(url, offset, length, o = {}) {
      checkRange(NAME, url, offset, length);
      if (length === 0) return emptyBody();
      const res = await request(
        'GET',
        url,
        { method: 'GET', extra: { range: `bytes=${offset}-${offset + length - 1}` } },
        o.signal,
      );
      if (res.status === 206) {
        const got = numberHeader(res.headers.get('content-length'));
        if (got !== undefined && got !== length) {
          await res.body?.cancel();
          throw new TransferError(
            'STREAMS_INVALID_ARGUMENT',
            `[streams/downloader] [http] GET ${url} bytes ${offset}..${offset + length}: the object is shorter (server sent ${got} bytes)`,
            { url, status: 416 },
          );
        }
        return bodyOf('GET', url, res, length, undefined, o.signal);
      }
      if (res.status === 200) {
        // The server ignored Range: skip to the offset ourselves.
        const total = numberHeader(res.headers.get('content-length'));
        if (total !== undefined && offset + length > total) {
          await res.body?.cancel();
          throw statusError(NAME, 'GET', url, 416);
        }
        return bodyOf('GET', url, res, length, offset, o.signal);
      }
      return fail('GET', url, res);
    },
    async list(prefix, o = {}) {
      const base = parseObjectUrl(prefix).url;
      base.search = '';
      const dirUrl = prefix.endsWith('/') ? base.href : new URL('.', base).href;
      const want = base.href;
      const files = new Set<string>();
      const seen = new Set<string>();
      const queue = [dirUrl];
      while (queue.length > 0) {
        const page = queue.shift()!;
        if (seen.has(page)) continue;
        seen.add(page);
        const res = await request('GET', page, { method: 'GET' }, o.signal);
        if (!res.ok) {
          // A missing directory lists as empty; any other failure fails the listing.
          if (res.status === 404 && page === dirUrl) {
            await res.body?.cancel();
            return [];
          }
          return fail('GET', page, res);
        }
        const html = await res.text();
        for (const href of hrefs(html)) {
          let link: URL;
          try {
            link = new URL(href, page);
          } catch {
            continue;
          }
          link.hash = '';
          link.search = '';
          // Only links below the directory that match the prefix (no parents, no other hosts).
          if (!link.href.startsWith(page) || link.href === page) continue;
          if (!(link.href.startsWith(want) || want.startsWith(link.href))) continue;
          if (link.href.endsWith('/')) queue.push(link.href);
          else if (link.href.startsWith(want)) files.add(link.href);
        }
      }
      const urls = [...files].sort();
      const out: ListEntry[] = new Array(urls.length);
      let next = 0;
      const worker = async () => {
        while (next < urls.length) {
          const i = next++;
          const url = urls[i]!;
          const s = await stat(url, o);
          out[i] = { url, key: decodeURIComponent(new URL(url).pathname.replace(/^\//, '')), ...s };
        }
      };
      await Promise.all(Array.from({ length: Math.min(listConcurrency, urls.length) }, worker));
      return out;
    },
    async put(url, body, o = {}) {
      const extra: Record<string, string> = {
        'content-type': o.contentType ?? 'application/octet-stream',
      };
      if (o.size !== undefined) extra['content-length'] = String(o.size);
      const payload =
        body instanceof Uint8Array
          ? body
          : new ReadableStream<Uint8Array>({
              async start(controller) {
                for await (const chunk of body) controller.enqueue(chunk);
                controller.close();
              },
            });
      const res = await request(
        'PUT',
        url,
        { method: 'PUT', body: payload, duplex: 'half', extra } as RequestInit,
        o.signal,
      );
      if (!res.ok) return fail('PUT', url, res);
      await res.body?.cancel();
      return stat(url, o);
    },
  };

  async function* guard(
    stream: ReadableStream<Uint8Array>,
    op: string,
    url: string,
    skip: number | undefined,
    size: number | undefined,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<Uint8Array> {
    let toSkip = skip ?? 0;
    let left = skip !== undefined && size !== undefined ? size : Number.POSITIVE_INFINITY;
    try {
      for await (const chunk of stream) {
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
        yield c;
        if (left <= 0) {
          await stream.cancel().catch(() => {});
          return;
        }
      }
    } catch (err) {
      if (signal?.aborted) throw signalReason(signal);
      if (isAbortError(err)) throw err;
      throw networkError(NAME, op, url, err);
    }
  }
}

function statOf(res: Response, size: number): ObjectStat {
  const lm = res.headers.get('last-modified');
  return {
    size,
    etag: cleanEtag(res.headers.get('etag')),
    lastModified: lm ? new Date(lm) : undefined,
  };
}

function numberHeader(v: string | null): number | undefined {
  if (v === null || v.trim() === '') return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

function hrefs(html: string): string[] {
  const out: string[] = [];
  for (const m of html.matchAll(/href\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/gi)) {
    const raw = (m[1] ?? m[2] ?? m[3] ?? '').replaceAll('&amp;', '&');
    if (raw && !raw.startsWith('?') && !raw.startsWith('#') && !/^(mailto|javascript):/i.test(raw))
      out.push(raw);
  }
  return out;
}

/** Reads `STREAMS_HTTP_CREDENTIALS` (a JSON object keyed by host); malformed JSON is an error. */
function credentialsFromEnv(): Record<string, HttpCredentials> {
  const raw = process.env.STREAMS_HTTP_CREDENTIALS;
  if (!raw) return {};
  try {
    const parsed: unknown = JSON.parse(raw);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
      return parsed as Record<string, HttpCredentials>;
  } catch {
    // Reported below without echoing the value: it holds secrets.
  }
  throw new TransferError(
    'STREAMS_INVALID_CONFIG',
    '[streams/downloader] [http] STREAMS_HTTP_CREDENTIALS is not a JSON object keyed by host',
    { fix: 'set it to e.g. {"data.example.com": {"bearer": "..."}}' },
  );
}
