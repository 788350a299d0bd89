import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';
import { disposeDrivers } from '@streams/downloader';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDataset } from '../src/dataset.js';
import { openMdsDataset } from '../src/mdsDataset.js';
import { RoutingByteSource } from '../src/routingByteSource.js';
import { toJsonValue } from '../src/sampleJson.js';
import { MDS_REFERENCE } from './fixtures.js';

// A real HTTP server on 127.0.0.1 serving the reference dataset, with Range support and a log.
let server: Server;
let base: string;
const log: { method: string | undefined; path: string; range: string | undefined }[] = [];

beforeAll(async () => {
  const root = join(MDS_REFERENCE, 'plain');
  server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    log.push({ method: req.method, path, range: req.headers.range });
    const file = join(root, path.replace(/^\/data\//, ''));
    try {
      const { size } = await stat(file);
      const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
      if (m) {
        const start = Number(m[1]);
        const end = m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
        res.writeHead(206, {
          'content-length': end - start + 1,
          'content-range': `bytes ${start}-${end}/${size}`,
          'accept-ranges': 'bytes',
        });
        if (req.method === 'HEAD') return res.end();
        createReadStream(file, { start, end }).pipe(res);
      } else {
        res.writeHead(200, { 'content-length': size, 'accept-ranges': 'bytes' });
        if (req.method === 'HEAD') return res.end();
        createReadStream(file).pipe(res);
      }
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/data`;
});

afterAll(async () => {
  await disposeDrivers();
  await new Promise((r) => server.close(r));
});

describe('MDS over HTTP through the downloader drivers', () => {
  it('reads the reference dataset sequentially', async () => {
    const { readFile } = await import('node:fs/promises');
    const expected = JSON.parse(await readFile(join(MDS_REFERENCE, 'expected.json'), 'utf8')).plain;
    await using ds = await openDataset(base);
    expect(ds.format).toBe('mds');
    let i = 0;
    for await (const s of ds.samples()) expect(toJsonValue(s)).toEqual(expected.samples[i++]);
    expect(i).toBe(1000);
  });

  it('random access uses range reads, not whole shards', async () => {
    const { readFile } = await import('node:fs/promises');
    const expected = JSON.parse(await readFile(join(MDS_REFERENCE, 'expected.json'), 'utf8')).plain;
    await using ds = await openMdsDataset(base);
    log.length = 0;
    expect(toJsonValue(await ds.get(500))).toEqual(expected.samples[500]);
    expect(toJsonValue(await ds.get(501))).toEqual(expected.samples[501]);
    const shardGets = log.filter((l) => l.path.endsWith('.mds') && l.method === 'GET');
    // Offset table + two samples, each a bounded range: no whole shard was fetched.
    expect(shardGets.length).toBeGreaterThanOrEqual(3);
    expect(shardGets.every((l) => /^bytes=\d+-\d+$/.test(l.range ?? ''))).toBe(true);
  });
});

describe('a remote file checked against its declared size, with no cache', () => {
  const file = () => join(MDS_REFERENCE, 'plain', 'index.json');
  it('passes at its size, and fails when the object is longer or shorter than declared', async () => {
    const { readFile } = await import('node:fs/promises');
    const bytes = new Uint8Array(await readFile(file()));
    const source = new RoutingByteSource();
    const url = `${base}/index.json`;
    const got = (await source.fetch(url, { size: bytes.length })).bytes;
    expect(new Uint8Array(got)).toEqual(bytes);
    // Longer than declared: not its first bytes passed off as the file.
    await expect(source.fetch(url, { size: bytes.length - 10 })).rejects.toMatchObject({
      code: 'STREAMS_SIZE_MISMATCH',
      message: expect.stringContaining(`expected ${bytes.length - 10} bytes, got ${bytes.length}`),
    });
    await expect(source.fetch(url, { size: bytes.length + 10 })).rejects.toMatchObject({
      code: 'STREAMS_SIZE_MISMATCH',
    });
  });
});
