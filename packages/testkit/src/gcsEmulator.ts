/**
 * A SMALL Google Cloud Storage JSON-API emulator for tests.
 *
 * No GCS emulator can be installed offline (fake-gcs-server is a Go binary, the gcloud emulator
 * is not public), so this file implements only the calls the `@google-cloud/storage` v7 client
 * makes for the downloader's driver, against an in-memory store:
 *
 * - `GET /storage/v1/b/:bucket` (bucket metadata; every JSON-API path also without `/storage/v1`)
 * - `GET /storage/v1/b/:bucket/o?prefix&maxResults&pageToken` (paginated listing)
 * - `GET /storage/v1/b/:bucket/o/:object` (metadata) and `?alt=media` (download, single byte ranges)
 * - `DELETE /storage/v1/b/:bucket/o/:object`
 * - `POST /upload/storage/v1/b/:bucket/o?uploadType=multipart` (simple upload)
 * - `POST ...?uploadType=resumable` + `PUT <session>` (resumable upload, chunked or one request)
 *
 * By default it checks no credentials (the client sends none to a custom endpoint). With
 * `serviceAccounts` it requires every request to carry a self-signed service-account JWT
 * (`Authorization: Bearer`, RS256, signed by a listed account's key, not expired): what the
 * Google auth library sends in universes other than googleapis.com. It does not implement the
 * OAuth token exchange (the library sends that to Google's fixed token URL), ACLs, IAM,
 * versioning, preconditions, compose, rewrite, or gzip transcoding, and keeps everything in
 * memory. Errors use the JSON API's `{ error: { code, message, errors } }` shape.
 */
import { createHash, createPublicKey, verify } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Options of {@link startGcsEmulator}. */
export interface GcsEmulatorOptions {
  /** Buckets that exist from the start. */
  buckets?: string[];
  /**
   * Require a self-signed JWT from one of these service accounts (client email -> public key
   * PEM) on every request; others get 401.
   */
  serviceAccounts?: Record<string, string>;
}

/** One request the emulator saw. */
export interface GcsRequestRecord {
  method: string;
  path: string;
  status: number;
  /** With `serviceAccounts`: the account whose JWT the request carried. */
  caller?: string;
}

/** A running emulator. */
export interface GcsEmulator extends AsyncDisposable {
  /** The `apiEndpoint` to give the client, e.g. `http://127.0.0.1:40123`. */
  url: string;
  port: number;
  requests: GcsRequestRecord[];
  /** Stores an object directly (no HTTP), for fast test fixtures. */
  putObject(bucket: string, name: string, data: Uint8Array): void;
  close(): Promise<void>;
}

interface StoredObject {
  data: Buffer;
  generation: string;
  updated: string;
  contentType: string;
}

interface Session {
  bucket: string;
  name: string;
  contentType: string;
  chunks: Buffer[];
  received: number;
}

/** Starts the emulator on 127.0.0.1 with a random port. */
export async function startGcsEmulator(options: GcsEmulatorOptions = {}): Promise<GcsEmulator> {
  const buckets = new Map<string, Map<string, StoredObject>>();
  for (const b of options.buckets ?? []) buckets.set(b, new Map());
  const sessions = new Map<string, Session>();
  const requests: GcsRequestRecord[] = [];
  let generation = 1_700_000_000_000_000;
  let sessionCount = 0;

  function store(
    bucket: string,
    name: string,
    data: Buffer,
    contentType = 'application/octet-stream',
  ): StoredObject {
    const obj: StoredObject = {
      data,
      generation: String(generation++),
      updated: new Date().toISOString(),
      contentType,
    };
    buckets.get(bucket)!.set(name, obj);
    return obj;
  }

  function metadata(bucket: string, name: string, o: StoredObject): Record<string, unknown> {
    const md5 = createHash('md5').update(o.data).digest('base64');
    return {
      kind: 'storage#object',
      id: `${bucket}/${name}/${o.generation}`,
      name,
      bucket,
      generation: o.generation,
      metageneration: '1',
      contentType: o.contentType,
      size: String(o.data.length),
      md5Hash: md5,
      etag: createHash('md5').update(`${o.generation}`).digest('base64').slice(0, 12),
      timeCreated: o.updated,
      updated: o.updated,
      storageClass: 'STANDARD',
    };
  }

  const server = createServer((req, res) => {
    const record: GcsRequestRecord = { method: req.method ?? '', path: req.url ?? '', status: 0 };
    requests.push(record);
    res.on('finish', () => {
      record.status = res.statusCode;
    });
    if (options.serviceAccounts) {
      const who = caller(req.headers.authorization);
      if (typeof who !== 'string') return error(res, 401, who.reason);
      record.caller = who;
    }
    handle(req, res).catch((err: unknown) => error(res, 500, String(err)));
  });

  /** The service account a bearer JWT proves, or why it proves none. */
  function caller(auth: string | undefined): string | { reason: string } {
    const jwt = /^Bearer (.+)$/.exec(auth ?? '')?.[1];
    if (!jwt) return { reason: 'Anonymous caller does not have storage access (no bearer token).' };
    const [h, p, sig] = jwt.split('.');
    let header: { alg?: string };
    let claims: { iss?: string; exp?: number };
    try {
      header = JSON.parse(Buffer.from(h ?? '', 'base64url').toString());
      claims = JSON.parse(Buffer.from(p ?? '', 'base64url').toString());
    } catch {
      return { reason: 'Invalid Credentials (not a JWT).' };
    }
    const pem = claims.iss === undefined ? undefined : options.serviceAccounts?.[claims.iss];
    if (header.alg !== 'RS256' || pem === undefined)
      return { reason: `Invalid Credentials (unknown account ${claims.iss}).` };
    const ok = verify(
      'RSA-SHA256',
      Buffer.from(`${h}.${p}`),
      createPublicKey(pem),
      Buffer.from(sig ?? '', 'base64url'),
    );
    if (!ok) return { reason: 'Invalid Credentials (bad JWT signature).' };
    if (!claims.exp || claims.exp * 1000 < Date.now())
      return { reason: 'Invalid Credentials (expired JWT).' };
    return claims.iss!;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const q = url.searchParams;
    // Resumable session PUTs.
    if (req.method === 'PUT' && q.has('upload_id'))
      return resumablePut(req, res, q.get('upload_id')!);
    const upload = parts[0] === 'upload';
    let p = upload ? parts.slice(1) : parts[0] === 'download' ? parts.slice(1) : parts;
    // With STORAGE_EMULATOR_HOST set, Google's client sends JSON-API calls to the host's root
    // (`/b/...`, no `/storage/v1`); fake-gcs-server accepts both, and so does this.
    if (p[0] === 'b') p = ['storage', 'v1', ...p];
    if (p[0] !== 'storage' || p[1] !== 'v1' || p[2] !== 'b' || !p[3])
      return error(res, 404, `no route for ${url.pathname}`);
    const bucketName = p[3];
    const bucket = buckets.get(bucketName);
    if (!bucket) return error(res, 404, 'The specified bucket does not exist.');
    if (p.length === 4) {
      if (req.method !== 'GET') return error(res, 405, 'method not allowed');
      return json(res, 200, { kind: 'storage#bucket', id: bucketName, name: bucketName });
    }
    if (p[4] !== 'o') return error(res, 404, `no route for ${url.pathname}`);
    if (upload && req.method === 'POST') return startUpload(req, res, bucketName, q);
    if (p.length === 5) {
      if (req.method !== 'GET') return error(res, 405, 'method not allowed');
      const prefix = q.get('prefix') ?? '';
      const max = Math.min(Number(q.get('maxResults') ?? 1000) || 1000, 1000);
      const names = [...bucket.keys()].filter((n) => n.startsWith(prefix)).sort();
      const start = Number(q.get('pageToken') ?? 0);
      const page = names.slice(start, start + max);
      const body: Record<string, unknown> = {
        kind: 'storage#objects',
        items: page.map((n) => metadata(bucketName, n, bucket.get(n)!)),
      };
      if (start + max < names.length) body.nextPageToken = String(start + max);
      return json(res, 200, body);
    }
    const name = p.slice(5).join('/');
    const obj = bucket.get(name);
    if (req.method === 'DELETE') {
      if (!obj) return error(res, 404, `No such object: ${bucketName}/${name}`);
      bucket.delete(name);
      res.statusCode = 204;
      res.end();
      return;
    }
    if (req.method !== 'GET') return error(res, 405, 'method not allowed');
    if (!obj) return error(res, 404, `No such object: ${bucketName}/${name}`);
    if (q.get('alt') !== 'media') return json(res, 200, metadata(bucketName, name, obj));
    return media(req, res, obj);
  }

  function media(req: IncomingMessage, res: ServerResponse, obj: StoredObject): void {
    const size = obj.data.length;
    let start = 0;
    let end = size - 1;
    const range = req.headers.range;
    res.setHeader('x-goog-generation', obj.generation);
    res.setHeader('x-goog-stored-content-encoding', 'identity');
    res.setHeader('x-goog-hash', `md5=${createHash('md5').update(obj.data).digest('base64')}`);
    res.setHeader('content-type', obj.contentType);
    res.setHeader('etag', `"${obj.generation}"`);
    if (range) {
      const m = /^bytes=(\d+)-(\d*)$/.exec(range);
      if (!m || Number(m[1]) >= size) {
        res.setHeader('content-range', `bytes */${size}`);
        error(res, 416, 'Request range not satisfiable');
        return;
      }
      start = Number(m[1]);
      if (m[2]) end = Math.min(end, Number(m[2]));
      res.statusCode = 206;
      res.setHeader('content-range', `bytes ${start}-${end}/${size}`);
    } else res.statusCode = 200;
    const body = obj.data.subarray(start, end + 1);
    res.setHeader('content-length', body.length);
    res.end(body);
  }

  async function startUpload(
    req: IncomingMessage,
    res: ServerResponse,
    bucket: string,
    q: URLSearchParams,
  ): Promise<void> {
    const body = await readBody(req);
    const type = q.get('uploadType');
    if (type === 'resumable') {
      const md =
        body.length > 0
          ? (JSON.parse(body.toString()) as { name?: string; contentType?: string })
          : {};
      const name = q.get('name') ?? md.name;
      if (!name) return error(res, 400, 'Required: name');
      const id = `s${++sessionCount}`;
      sessions.set(id, {
        bucket,
        name,
        contentType: String(
          req.headers['x-upload-content-type'] ?? md.contentType ?? 'application/octet-stream',
        ),
        chunks: [],
        received: 0,
      });
      res.setHeader(
        'location',
        `http://${req.headers.host}/upload/storage/v1/b/${bucket}/o?uploadType=resumable&upload_id=${id}`,
      );
      return json(res, 200, {});
    }
    if (type === 'multipart') {
      const m = /boundary="?([^";]+)"?/.exec(String(req.headers['content-type'] ?? ''));
      if (!m) return error(res, 400, 'multipart upload without boundary');
      const parts = splitMultipart(body, m[1]!);
      if (parts.length < 2)
        return error(res, 400, 'multipart upload needs metadata and media parts');
      const md = JSON.parse(parts[0]!.body.toString()) as { name?: string; contentType?: string };
      const name = q.get('name') ?? md.name;
      if (!name) return error(res, 400, 'Required: name');
      const obj = store(
        bucket,
        name,
        parts[1]!.body,
        md.contentType ?? parts[1]!.type ?? 'application/octet-stream',
      );
      return json(res, 200, metadata(bucket, name, obj));
    }
    if (type === 'media') {
      const name = q.get('name');
      if (!name) return error(res, 400, 'Required: name');
      const obj = store(
        bucket,
        name,
        body,
        String(req.headers['content-type'] ?? 'application/octet-stream'),
      );
      return json(res, 200, metadata(bucket, name, obj));
    }
    return error(res, 400, `unsupported uploadType ${type}`);
  }

  async function resumablePut(
    req: IncomingMessage,
    res: ServerResponse,
    id: string,
  ): Promise<void> {
    const s = sessions.get(id);
    if (!s) return error(res, 404, 'No such upload session');
    const body = await readBody(req);
    const range = String(req.headers['content-range'] ?? '');
    // "bytes a-b/total", "bytes a-*/total" (streamed to the end), "bytes */total" (status query).
    const m = /^bytes (\*|(\d+)-(\d+|\*))\/(\d+|\*)$/.exec(range);
    if (!m) return error(res, 400, `bad Content-Range "${range}"`);
    if (body.length > 0) {
      s.chunks.push(body);
      s.received += body.length;
    }
    const total = m[4] === '*' ? undefined : Number(m[4]);
    const streamedToEnd = m[3] === '*';
    if (
      (total !== undefined && s.received >= total) ||
      (streamedToEnd && total === undefined) ||
      (streamedToEnd && s.received === total)
    ) {
      sessions.delete(id);
      const obj = store(s.bucket, s.name, Buffer.concat(s.chunks), s.contentType);
      return json(res, 200, metadata(s.bucket, s.name, obj));
    }
    res.statusCode = 308;
    if (s.received > 0) res.setHeader('range', `bytes=0-${s.received - 1}`);
    res.setHeader('content-length', 0);
    res.end();
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    putObject(bucket, name, data) {
      if (!buckets.has(bucket)) buckets.set(bucket, new Map());
      store(bucket, name, Buffer.from(data));
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function splitMultipart(
  body: Buffer,
  boundary: string,
): { type: string | undefined; body: Buffer }[] {
  const delim = Buffer.from(`--${boundary}`);
  const out: { type: string | undefined; body: Buffer }[] = [];
  let at = body.indexOf(delim);
  while (at >= 0) {
    const next = body.indexOf(delim, at + delim.length);
    if (next < 0) break;
    const part = body.subarray(at + delim.length, next);
    const headEnd = part.indexOf('\r\n\r\n');
    if (headEnd >= 0) {
      const head = part.subarray(0, headEnd).toString();
      let content = part.subarray(headEnd + 4);
      if (content.subarray(-2).toString() === '\r\n') content = content.subarray(0, -2);
      out.push({ type: /content-type:\s*([^\r\n]+)/i.exec(head)?.[1], body: Buffer.from(content) });
    }
    at = next;
  }
  return out;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=UTF-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function error(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const reason =
    status === 404
      ? 'notFound'
      : status === 403
        ? 'forbidden'
        : status === 401
          ? 'authError'
          : status === 400
            ? 'invalid'
            : 'backendError';
  json(res, status, {
    error: { code: status, message, errors: [{ domain: 'global', reason, message }] },
  });
}
