import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { StreamsErrorCode } from '@streams/core';

/** One crafted dataset of {@link startHostileRemote}. */
export interface HostileCase {
  name: string;
  /** What it does to a reader that trusts it. */
  attack: string;
  /** Path of the dataset under the server's URL (the URL the user names). */
  path: string;
  /** The format to read it as, when its name does not tell (an index table in a `.csv`). */
  format?: 'table';
  /** An MDS dataset: `StreamingDataset` reads it too. */
  mds: boolean;
  /** How a careful reader ends: one of these `STREAMS_` codes, or `ok` where reading it is fine. */
  expect: readonly (StreamsErrorCode | 'ok')[];
  /** Bytes the server may send for it at most: a reader must stop pulling an endless answer. */
  maxBytesSent?: number;
  /** A secret the request carries in its URL that no output may show. */
  secret?: string;
}

/** The hostile server, the host nobody named, and a local file nothing may read. */
export interface HostileRemote extends AsyncDisposable {
  /** Base URL with a trailing slash. */
  url: string;
  cases: readonly HostileCase[];
  /** Bytes sent for each case so far (by case name). */
  bytesSent(name: string): number;
  /** A second server that no request should ever reach: its requests so far. */
  bystander: { url: string; requests(): number };
  /** A local file the crafted datasets point at: nothing may read it or reveal its size. */
  canary: { path: string; url: string; token: string; size: number };
  close(): Promise<void>;
}

const MIB = 1024 * 1024;

/** An MDS shard of `n` int32 samples (values 0..n-1), laid out by hand: count, offsets, data. */
function int32Shard(n: number): Uint8Array {
  const out = new Uint8Array(4 + 4 * (n + 1) + 4 * n);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, n, true);
  const first = 4 + 4 * (n + 1);
  for (let i = 0; i <= n; i++) dv.setUint32(4 + 4 * i, first + 4 * i, true);
  for (let i = 0; i < n; i++) dv.setInt32(first + 4 * i, i, true);
  return out;
}

function shardEntry(basename: string, samples: number, bytes: number): Record<string, unknown> {
  return {
    version: 2,
    format: 'mds',
    column_names: ['x'],
    column_encodings: ['int32'],
    column_sizes: [4],
    compression: null,
    hashes: [],
    samples,
    size_limit: null,
    raw_data: { basename, bytes, hashes: {} },
    zip_data: null,
  };
}

const indexJson = (shards: Record<string, unknown>[]) => JSON.stringify({ version: 2, shards });

/**
 * A `node:http` server on 127.0.0.1 serving datasets crafted to attack readers that trust remote
 * metadata: shard basenames that are URLs or local paths, URLs of other hosts, lying sample counts
 * and sizes, 10^15-byte declarations, deep nesting, endless cells and lines, index tables and list
 * files naming local files, and error bodies that echo the request's signature. Beside it, a
 * bystander server that counts the requests it should never get, and a canary file on local disk.
 */
export async function startHostileRemote(): Promise<HostileRemote> {
  const dir = await mkdtemp(join(tmpdir(), 'streams-hostile-'));
  const token = `canary-${randomBytes(8).toString('hex')}`;
  // An odd size, so a message revealing it is recognizable.
  const canaryText = `{"secret":"${token}"}\n${' '.repeat(4099)}\n`;
  const canaryPath = join(dir, 'canary.jsonl');
  await writeFile(canaryPath, canaryText);
  const canary = {
    path: canaryPath,
    url: pathToFileURL(canaryPath).href,
    token,
    size: Buffer.byteLength(canaryText),
  };

  let bystanderRequests = 0;
  const bystander = createServer((_req, res) => {
    bystanderRequests++;
    res.statusCode = 404;
    res.end('you were never named');
  });
  await listen(bystander);
  const bystanderUrl = `http://127.0.0.1:${(bystander.address() as AddressInfo).port}/`;

  const sent = new Map<string, number>();
  const files = new Map<string, { body: Uint8Array | string; status?: number }>();
  // Answers that stream `fill` bytes after `head` until the reader stops (or `cap` bytes).
  const endless = new Map<string, { head: string; fill: number; cap: number }>();
  const echo = new Set<string>();
  const cases: HostileCase[] = [];
  const add = (c: HostileCase) => cases.push(c);
  const shard2 = int32Shard(2); // 24 bytes, an honest shard of 2 samples

  const mdsCase = (
    name: string,
    attack: string,
    shards: Record<string, unknown>[] | string,
    expect: HostileCase['expect'],
    extra: Partial<HostileCase> & { noShard?: boolean } = {},
  ) => {
    files.set(`/${name}/index.json`, {
      body: typeof shards === 'string' ? shards : indexJson(shards),
    });
    if (!extra.noShard) files.set(`/${name}/shard.00000.mds`, { body: shard2 });
    const { noShard: _, ...rest } = extra;
    add({ name, attack, path: `${name}`, mds: true, expect, ...rest });
  };

  mdsCase(
    'mds-basename-file-url',
    'a shard basename that is a file: URL makes the reader print a local file',
    [shardEntry(canary.url, 2, canary.size)],
    ['STREAMS_UNSAFE_PATH'],
  );
  mdsCase(
    'mds-basename-absolute',
    'an absolute basename reads a local file, or reveals its size',
    [shardEntry(canary.path, 2, canary.size)],
    ['STREAMS_UNSAFE_PATH'],
  );
  mdsCase(
    'mds-basename-other-host',
    'a basename that is a URL of another host makes the client request it (SSRF)',
    [shardEntry(`${bystanderUrl}shard.00000.mds`, 2, shard2.length)],
    ['STREAMS_UNSAFE_PATH'],
  );
  mdsCase(
    'mds-basename-protocol-relative',
    'a basename //host/... is another host once resolved as a URL',
    [shardEntry(`//${bystanderUrl.slice('http://'.length)}shard.00000.mds`, 2, shard2.length)],
    ['STREAMS_UNSAFE_PATH'],
  );
  mdsCase(
    'mds-basename-dotdot',
    'a basename that climbs out of the dataset with ..',
    [shardEntry('../../../../../../../etc/passwd', 2, 40)],
    ['STREAMS_UNSAFE_PATH'],
  );
  mdsCase(
    'mds-count-lie',
    'two billion samples declared for a 64-byte shard: gigabytes of plan',
    [shardEntry('shard.00000.mds', 2e9, 64)],
    ['STREAMS_INDEX_INVALID'],
  );
  mdsCase(
    'mds-petabyte',
    'a 10^15-byte shard declared: budgets and buffers sized from it',
    [shardEntry('shard.00000.mds', 2, 1e15)],
    ['STREAMS_INDEX_INVALID'],
  );
  mdsCase(
    'mds-billions-of-samples',
    '2,000 plausible shards of a million samples each: an epoch plan of tens of GB',
    Array.from({ length: 2000 }, (_, k) =>
      shardEntry(`shard.${String(k).padStart(5, '0')}.mds`, 1e6, 4 * (1e6 + 2) + 4e6),
    ),
    ['STREAMS_INVALID_CONFIG', 'STREAMS_NOT_FOUND'],
    // No shard is served: readers that do not plan the epoch find that out.
    { noShard: true },
  );
  mdsCase(
    'mds-header-lie',
    'index.json and the shard header disagree on the sample count',
    [shardEntry('shard.00000.mds', 3, shard2.length)],
    ['STREAMS_SHARD_CORRUPT', 'STREAMS_INDEX_INVALID'],
  );
  mdsCase(
    'mds-size-lie',
    'a 24-byte shard declared, an endless one served: the reader must stop at the declared size',
    [shardEntry('endless.mds', 2, shard2.length)],
    [
      'STREAMS_SHARD_CORRUPT',
      'STREAMS_SIZE_MISMATCH',
      'STREAMS_INVALID_ARGUMENT',
      'STREAMS_NETWORK',
    ],
    { maxBytesSent: 48 * MIB },
  );
  endless.set('/mds-size-lie/endless.mds', { head: '', fill: 0x41, cap: 96 * MIB });
  mdsCase(
    'mds-deep-index',
    'an index.json nested 200,000 levels deep',
    `{"version":2,"shards":${'['.repeat(200_000)}${']'.repeat(200_000)}}`,
    ['STREAMS_INDEX_INVALID'],
  );

  files.set('/table-file-url.csv', { body: `url,label\nshard.00000.mds,0\n${canary.url},1\n` });
  add({
    name: 'table-file-url',
    attack: 'an index table whose URL column names a local file: convert copies it into its output',
    path: 'table-file-url.csv',
    format: 'table',
    mds: false,
    expect: ['STREAMS_UNSAFE_PATH'],
  });
  files.set('/list-file-url.txt', { body: `${canary.url}\n` });
  add({
    name: 'list-file-url',
    attack: 'a list of JSONL shards that names a local file',
    path: 'list-file-url.txt',
    mds: false,
    expect: ['STREAMS_UNSAFE_PATH'],
  });
  endless.set('/huge-cell.csv', { head: 'a,b\n1,"', fill: 0x78, cap: 256 * MIB });
  add({
    name: 'huge-cell',
    attack: 'a CSV cell that never ends: a reader without bounds runs out of memory',
    path: 'huge-cell.csv',
    mds: false,
    expect: ['STREAMS_INDEX_INVALID'],
    maxBytesSent: 48 * MIB,
  });
  endless.set('/huge-line.jsonl', { head: '{"a":"', fill: 0x78, cap: 256 * MIB });
  add({
    name: 'huge-line',
    attack: 'a JSONL line that never ends',
    path: 'huge-line.jsonl',
    mds: false,
    expect: ['STREAMS_INDEX_INVALID'],
    maxBytesSent: 96 * MIB,
  });
  const depth = 200_000;
  files.set('/deep.jsonl', {
    body: `{"a":1}\n{"deep":${'['.repeat(depth)}1${']'.repeat(depth)}}\n`,
  });
  add({
    name: 'deep-jsonl',
    attack: 'a JSONL record nested 200,000 levels deep: recursive walks overflow the stack',
    path: 'deep.jsonl',
    mds: false,
    expect: ['ok', 'STREAMS_INVALID_ARGUMENT'],
  });
  const secret = `SIG${randomBytes(12).toString('hex')}`;
  echo.add('/echo/d.jsonl');
  add({
    name: 'echoed-signature',
    attack: 'an error body that echoes the request, signature and all',
    path: `echo/d.jsonl?X-Amz-Credential=AKIAEXAMPLE&X-Amz-Signature=${secret}`,
    mds: false,
    expect: ['STREAMS_FORBIDDEN'],
    secret,
  });

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const name = cases.find((c) => path.slice(1).startsWith(c.path.split('?')[0] as string))?.name;
    const count = (n: number) => {
      if (name) sent.set(name, (sent.get(name) ?? 0) + n);
    };
    if (echo.has(path)) {
      const body = `<Error><Code>AccessDenied</Code><Request>${req.method} ${req.url}</Request><Authorization>${req.headers.authorization ?? ''}</Authorization></Error>`;
      res.writeHead(403, { 'content-type': 'application/xml', 'content-length': body.length });
      res.end(body);
      return;
    }
    const stream = endless.get(path);
    if (stream) {
      // Ignores Range and never ends: only the reader can stop it.
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      if (req.method === 'HEAD') return void res.end();
      const chunk = Buffer.alloc(MIB, stream.fill);
      res.write(stream.head);
      count(stream.head.length);
      let closed = false;
      res.on('close', () => {
        closed = true;
      });
      let total = 0;
      while (!closed && total < stream.cap) {
        total += chunk.length;
        const ok = res.write(chunk);
        count(chunk.length);
        if (!ok)
          await new Promise((r) => (closed ? r(undefined) : res.once('drain', r).once('close', r)));
      }
      res.end();
      return;
    }
    const file = files.get(path);
    if (!file) {
      res.writeHead(404).end('not found');
      return;
    }
    const body = typeof file.body === 'string' ? Buffer.from(file.body) : Buffer.from(file.body);
    let start = 0;
    let end = body.length - 1;
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (m) {
      start = Number(m[1]);
      end = m[2] ? Math.min(Number(m[2]), end) : end;
      if (start > end) {
        res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
        return;
      }
      res.writeHead(206, {
        'content-range': `bytes ${start}-${end}/${body.length}`,
        'content-length': end - start + 1,
      });
    } else res.writeHead(200, { 'content-length': body.length });
    if (req.method === 'HEAD') return void res.end();
    count(end - start + 1);
    res.end(body.subarray(start, end + 1));
  };
  const server = createServer((req, res) => {
    // No keep-alive: a client reusing a socket the server just timed out would see resets that
    // no case is about.
    res.setHeader('connection', 'close');
    handle(req, res).catch(() => res.destroy());
  });
  await listen(server);
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const close = async () => {
    for (const s of [server, bystander]) {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
    await rm(dir, { recursive: true, force: true });
  };
  return {
    url,
    cases,
    bytesSent: (name) => sent.get(name) ?? 0,
    bystander: { url: bystanderUrl, requests: () => bystanderRequests },
    canary,
    close,
    [Symbol.asyncDispose]: close,
  };
}

function listen(server: Server): Promise<void> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
}
