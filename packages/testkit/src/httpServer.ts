import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, normalize, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';

/** Options of {@link startHttpServer}. */
export interface HttpServerOptions {
  /** Directory served at `/`. */
  root: string;
  /** Require this bearer token or these basic credentials (401 otherwise). */
  auth?: { bearer?: string; basic?: { username: string; password: string } };
  /** Answer HEAD with 405, like some CDNs (default false). */
  noHead?: boolean;
  /** Ignore Range headers and send whole files (default false). */
  ignoreRange?: boolean;
  /** Accept PUT uploads into `root` (default true). */
  allowPut?: boolean;
  /** Paths (e.g. `/secret.bin`) answered with 403. */
  forbidden?: string[];
  /** Paths (e.g. `/old.bin`) answered with a 302 to the given location (relative or absolute). */
  redirects?: Record<string, string>;
}

/** One request the server saw. */
export interface HttpRequestRecord {
  method: string;
  path: string;
  status: number;
  headers: Record<string, string | string[] | undefined>;
}

/** A running test server; close it (or `await using` it) when done. */
export interface TestHttpServer extends AsyncDisposable {
  /** Base URL with a trailing slash, e.g. `http://127.0.0.1:40123/`. */
  url: string;
  port: number;
  /** Every request, in arrival order. */
  requests: HttpRequestRecord[];
  close(): Promise<void>;
}

/**
 * A real `node:http` file server on 127.0.0.1 (random port) for tests: GET/HEAD with
 * Content-Length, ETag, Last-Modified and single byte ranges, HTML directory indexes (like nginx
 * autoindex), PUT uploads, and optional bearer/basic auth.
 */
export async function startHttpServer(options: HttpServerOptions): Promise<TestHttpServer> {
  const requests: HttpRequestRecord[] = [];
  const root = resolve(options.root); // no trailing separator: the check below appends one
  const server = createServer((req, res) => {
    const record: HttpRequestRecord = {
      method: req.method ?? '',
      path: req.url ?? '',
      status: 0,
      headers: req.headers,
    };
    requests.push(record);
    res.on('finish', () => {
      record.status = res.statusCode;
    });
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, String(err));
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!authorized(req)) {
      res.setHeader('www-authenticate', 'Bearer');
      return send(res, 401, 'unauthorized');
    }
    const url = new URL(req.url ?? '/', 'http://x');
    const rel = decodeURIComponent(url.pathname);
    const location = options.redirects?.[rel];
    if (location !== undefined) {
      res.setHeader('location', location);
      return send(res, 302, 'moved');
    }
    if (options.forbidden?.includes(rel)) return send(res, 403, 'forbidden');
    const path = normalize(join(root, rel));
    if (path !== root && !path.startsWith(root + sep)) return send(res, 403, 'outside root');
    if (req.method === 'PUT') {
      if (options.allowPut === false) return send(res, 405, 'read-only');
      await mkdir(dirname(path), { recursive: true });
      const tmp = `${path}.upload-${process.pid}-${Math.random().toString(36).slice(2)}`;
      await pipeline(req, createWriteStream(tmp));
      await rename(tmp, path);
      return send(res, 201, '');
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'method not allowed');
    if (req.method === 'HEAD' && options.noHead) return send(res, 405, 'no HEAD here');
    let s: Awaited<ReturnType<typeof stat>>;
    try {
      s = await stat(path);
    } catch {
      return send(res, 404, 'not found');
    }
    if (s.isDirectory()) {
      if (!url.pathname.endsWith('/')) {
        res.setHeader('location', `${url.pathname}/`);
        return send(res, 301, '');
      }
      const entries = await readdir(path, { withFileTypes: true });
      const links = entries
        .filter((e) => !e.name.startsWith('.'))
        .sort((a, b) => (a.name < b.name ? -1 : 1))
        .map((e) => {
          const name = encodeURIComponent(e.name) + (e.isDirectory() ? '/' : '');
          return `<a href="${name}">${name}</a>`;
        });
      res.setHeader('content-type', 'text/html');
      return send(
        res,
        200,
        `<html><body><a href="../">../</a>\n${links.join('\n')}\n</body></html>`,
      );
    }
    const etag = `"${s.size.toString(16)}-${Math.floor(s.mtimeMs).toString(16)}"`;
    res.setHeader('etag', etag);
    res.setHeader('last-modified', s.mtime.toUTCString());
    res.setHeader('accept-ranges', options.ignoreRange ? 'none' : 'bytes');
    res.setHeader('content-type', 'application/octet-stream');
    let start = 0;
    let end = s.size - 1;
    const range = options.ignoreRange ? undefined : req.headers.range;
    if (range) {
      const m = /^bytes=(\d*)-(\d*)$/.exec(range);
      if (!m || (m[1] === '' && m[2] === '')) return send(res, 416, 'bad range');
      if (m[1] === '') {
        start = Math.max(0, s.size - Number(m[2]));
      } else {
        start = Number(m[1]);
        if (m[2] !== '') end = Math.min(end, Number(m[2]));
      }
      if (start >= s.size || start > end) {
        res.setHeader('content-range', `bytes */${s.size}`);
        return send(res, 416, 'range not satisfiable');
      }
      res.statusCode = 206;
      res.setHeader('content-range', `bytes ${start}-${end}/${s.size}`);
    } else res.statusCode = 200;
    res.setHeader('content-length', String(end - start + 1));
    if (req.method === 'HEAD' || end < start) {
      res.end();
      return;
    }
    await pipeline(createReadStream(path, { start, end }), res);
  }

  function authorized(req: IncomingMessage): boolean {
    const a = options.auth;
    if (!a) return true;
    const header = req.headers.authorization ?? '';
    if (a.bearer && header === `Bearer ${a.bearer}`) return true;
    if (
      a.basic &&
      header ===
        `Basic ${Buffer.from(`${a.basic.username}:${a.basic.password}`).toString('base64')}`
    )
      return true;
    return false;
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { url: `http://127.0.0.1:${port}/`, port, requests, close, [Symbol.asyncDispose]: close };
}

function send(res: ServerResponse, status: number, body: string): void {
  res.statusCode = status;
  res.setHeader('content-length', Buffer.byteLength(body));
  res.end(body);
}
