// Counting remote WebDataset tars (no wids shard index) with a node cache: each tar is downloaded
// once, into the cache, where its count reads it and its first load finds it. A cache smaller than
// the dataset still opens it and stays within its budget; without a cache a tar is streamed.
// Remote JSONL and CSV shards are counted the same way.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { type DiskCache, openCache } from '@streams/downloader';
import { startHttpServer, type TestHttpServer } from '@streams/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ByteSource } from '../src/byteSource.js';
import { openDataset } from '../src/dataset.js';
import type { Sample } from '../src/formats/format.js';
import { RoutingByteSource } from '../src/routingByteSource.js';
import { makeTar, tempDir } from './fixtures.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  tmp = await tempDir();
});
afterEach(() => tmp.cleanup());

/** A tar of `n` samples `s/<i>.cls` + `s/<i>.bin` (`pad` bytes each), keys starting at `from`. */
const tarOf = (n: number, from: number, pad = 100) =>
  makeTar(
    Array.from({ length: n }, (_, i) => [
      { name: `s/${from + i}.cls`, data: String(from + i) },
      { name: `s/${from + i}.bin`, data: new Uint8Array(pad).fill((from + i) % 251) },
    ]).flat(),
  );

/** Serves `files` (name -> bytes) and `shards.txt` listing them, in order. */
async function serve(files: Record<string, Uint8Array>): Promise<TestHttpServer> {
  const root = join(tmp.dir, 'www');
  await mkdir(root, { recursive: true });
  for (const [name, bytes] of Object.entries(files)) await writeFile(join(root, name), bytes);
  await writeFile(join(root, 'shards.txt'), `${Object.keys(files).join('\n')}\n`);
  return startHttpServer({ root });
}

/** The GETs of each shard (not the list) since request `from`, by path. */
function tarGets(http: TestHttpServer, from = 0): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of http.requests.slice(from))
    if (r.method === 'GET' && !r.path.endsWith('/shards.txt')) out[r.path] = (out[r.path] ?? 0) + 1;
  return out;
}

/** Opens the list, counts it, and decodes every sample of every tar loaded whole. */
async function openCountLoad(url: string, source: ByteSource, format = 'wds') {
  await using ds = await openDataset(url, { source, format });
  const fd = ds.dataset;
  const n = await fd.count();
  const samples: Sample[] = [];
  for (let k = 0; k < fd.units.length; k++) {
    const unit = await fd.load(k);
    for (let j = 0; j < unit.samples; j++) samples.push(unit.decode(j));
    await unit.release();
  }
  return { n, samples, counts: fd.units.map((u) => u.samples) };
}

/** A sample as comparable rows (bytes as hex). */
const rowsOf = (s: Sample) =>
  Object.entries(s)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => [k, v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v]);

/** The same list read through a source with no cache: the reference. */
async function plainRead(url: string, format = 'wds') {
  const source = new RoutingByteSource();
  try {
    return await openCountLoad(url, source, format);
  } finally {
    await source.close();
  }
}

async function withCache<T>(cache: DiskCache, f: (source: RoutingByteSource) => Promise<T>) {
  const source = new RoutingByteSource({ cache });
  try {
    return await f(source);
  } finally {
    await source.close();
  }
}

describe('remote tars counted with a node cache are downloaded once', () => {
  it('open, count and load every tar: one GET per tar, the same samples as a plain source', async () => {
    await using http = await serve({
      'a.tar': tarOf(4, 0),
      'b.tar': tarOf(6, 4),
      'c.tar': tarOf(5, 10),
    });
    const url = `${http.url}shards.txt`;
    await using cache = await openCache({ dir: join(tmp.dir, 'cache'), limit: '1gb' });
    const got = await withCache(cache, (source) => openCountLoad(url, source));
    expect(got.n).toBe(15);
    expect(got.counts).toEqual([4, 6, 5]);
    // Counted from its cache entry, each tar's load is a hit: no second download.
    expect(tarGets(http)).toEqual({ '/a.tar': 1, '/b.tar': 1, '/c.tar': 1 });
    expect(cache.stats().pinnedBytes).toBe(0);
    // A plain source streams each tar to count it, then downloads it again to load it.
    const before = http.requests.length;
    const plain = await plainRead(url);
    expect(tarGets(http, before)).toEqual({ '/a.tar': 2, '/b.tar': 2, '/c.tar': 2 });
    expect(plain.n).toBe(15);
    expect(got.samples.map(rowsOf)).toEqual(plain.samples.map(rowsOf));
    expect(got.samples.map((s) => s.cls)).toEqual(Array.from({ length: 15 }, (_, i) => i));
  });

  it('a cache smaller than the dataset: it opens, reads every sample, and stays within its budget', async () => {
    const files: Record<string, Uint8Array> = {};
    for (let t = 0; t < 5; t++) files[`t${t}.tar`] = tarOf(8, 8 * t, 2000); // ~36 KiB a tar
    const total = Object.values(files).reduce((a, b) => a + b.length, 0);
    await using http = await serve(files);
    const url = `${http.url}shards.txt`;
    // Room for two tars and a half, not for five.
    const limit = Math.floor((total * 2.5) / 5);
    await using cache = await openCache({ dir: join(tmp.dir, 'cache'), limit });
    const opened = await withCache(cache, async (source) => {
      await using ds = await openDataset(url, { source, format: 'wds' });
      const n = await ds.dataset.count();
      const stats = cache.stats();
      return { n, stats };
    });
    expect(opened.n).toBe(40);
    expect(opened.stats.budget).toBe(limit);
    expect(opened.stats.bytesInUse).toBeLessThanOrEqual(limit);
    expect(opened.stats.evictions).toBeGreaterThan(0); // the limit was reached
    expect(opened.stats.pinnedBytes).toBe(0); // no tar stays pinned after its count
    // Every tar counted from the cache: one GET each at open.
    expect(Object.values(tarGets(http))).toEqual([1, 1, 1, 1, 1]);
    const got = await withCache(cache, (source) => openCountLoad(url, source));
    expect(got.samples.map((s) => s.cls)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(got.samples.map(rowsOf)).toEqual((await plainRead(url)).samples.map(rowsOf));
    expect(cache.stats().bytesInUse).toBeLessThanOrEqual(limit);
  });

  it('a tar larger than the cache is counted as a stream, and the dataset still opens', async () => {
    await using http = await serve({ 'small.tar': tarOf(3, 0), 'big.tar': tarOf(4, 3, 20_000) });
    const url = `${http.url}shards.txt`;
    await using cache = await openCache({ dir: join(tmp.dir, 'cache'), limit: 40_000 });
    const n = await withCache(cache, async (source) => {
      await using ds = await openDataset(url, { source, format: 'wds' });
      return ds.dataset.count();
    });
    expect(n).toBe(7);
    // The cache refuses big.tar before any byte of it is downloaded (its size is asked first).
    expect(tarGets(http)).toEqual({ '/small.tar': 1, '/big.tar': 1 });
    expect(cache.stats().bytesInUse).toBeLessThanOrEqual(40_000);
  });

  it('a remote .tar.gz is counted from its cache entry: counted right, one GET', async () => {
    await using http = await serve({
      'a.tar.gz': gzipSync(tarOf(3, 0)),
      'b.tar.gz': gzipSync(tarOf(9, 3)),
    });
    const url = `${http.url}shards.txt`;
    await using cache = await openCache({ dir: join(tmp.dir, 'cache'), limit: '1gb' });
    const got = await withCache(cache, (source) => openCountLoad(url, source));
    expect(got.counts).toEqual([3, 9]);
    expect(tarGets(http)).toEqual({ '/a.tar.gz': 1, '/b.tar.gz': 1 });
    expect(got.samples.map(rowsOf)).toEqual((await plainRead(url)).samples.map(rowsOf));
  });

  it('a tar rewritten after it was cached is downloaded again to count it, and loads as rewritten', async () => {
    await using http = await serve({ 'a.tar': tarOf(4, 0), 'b.tar': tarOf(2, 4) });
    const url = `${http.url}shards.txt`;
    await using cache = await openCache({ dir: join(tmp.dir, 'cache'), limit: '1gb' });
    expect((await withCache(cache, (source) => openCountLoad(url, source))).n).toBe(6);
    await writeFile(join(tmp.dir, 'www', 'a.tar'), tarOf(3, 100));
    const before = http.requests.length;
    const got = await withCache(cache, (source) => openCountLoad(url, source));
    expect(got.counts).toEqual([3, 2]);
    expect(got.samples.map((s) => s.cls)).toEqual([100, 101, 102, 4, 5]);
    // b.tar's count is remembered; a.tar's new bytes are downloaded once, for count and load.
    expect(tarGets(http, before)).toEqual({ '/a.tar': 1 });
  });
});

describe('remote JSONL and CSV shards counted with a node cache are downloaded once', () => {
  for (const format of ['jsonl', 'csv'] as const)
    it(`${format}: open, count and load every shard: one GET per shard, as a plain source reads`, async () => {
      const shard = (n: number, from: number, gz: boolean) => {
        const ids = Array.from({ length: n }, (_, i) => from + i);
        const text =
          format === 'jsonl'
            ? ids.map((i) => JSON.stringify({ i, text: `t${i}` })).join('\n')
            : `i,text\n${ids.map((i) => `${i},t${i}`).join('\n')}\n`;
        const bytes = new TextEncoder().encode(text);
        return gz ? gzipSync(bytes) : bytes;
      };
      await using http = await serve({
        [`p0.${format}`]: shard(3, 0, false),
        [`p1.${format}.gz`]: shard(5, 3, true),
        [`p2.${format}`]: shard(2, 8, false),
      });
      const url = `${http.url}shards.txt`;
      await using cache = await openCache({ dir: join(tmp.dir, 'cache'), limit: '1gb' });
      const got = await withCache(cache, (source) => openCountLoad(url, source, format));
      expect(got.counts).toEqual([3, 5, 2]);
      expect(Object.values(tarGets(http))).toEqual([1, 1, 1]);
      expect(got.samples.map((s) => s.i)).toEqual(Array.from({ length: 10 }, (_, i) => i));
      const before = http.requests.length;
      const plain = await plainRead(url, format);
      expect(Object.values(tarGets(http, before))).toEqual([2, 2, 2]);
      expect(got.samples.map(rowsOf)).toEqual(plain.samples.map(rowsOf));
    });
});
