import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openCache } from '@streams/downloader';
import { startHttpServer } from '@streams/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collect, error, makeTar, tempDir } from '../../test/fixtures.js';
import { openDataset } from '../dataset.js';
import { RoutingByteSource } from '../routingByteSource.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  tmp = await tempDir();
});
afterEach(() => tmp.cleanup());

/** A tar of `n` samples `s/<i>.cls` + `s/<i>.txt`, keys starting at `from`. */
const tarOf = (n: number, from = 0) =>
  makeTar(
    Array.from({ length: n }, (_, i) => [
      { name: `s/${from + i}.cls`, data: String(from + i) },
      { name: `s/${from + i}.txt`, data: `sample ${from + i}` },
    ]).flat(),
  );

/** A source on `cacheDir` that counts the bytes it reads from local files, by file name. */
function countingSource(cache: Awaited<ReturnType<typeof openCache>>) {
  const inner = new RoutingByteSource({ cache });
  const read = new Map<string, number>();
  const add = (url: string, n: number) => {
    const name = url.split('/').pop() as string;
    read.set(name, (read.get(name) ?? 0) + n);
  };
  const source = Object.assign(Object.create(inner) as RoutingByteSource, {
    readRangeSync(url: string, start: number, end: number) {
      const got = inner.readRangeSync(url, start, end);
      add(url, got?.length ?? 0);
      return got;
    },
    async *stream(url: string, o?: { signal?: AbortSignal }) {
      for await (const c of inner.stream(url, o)) {
        add(url, c.length);
        yield c;
      }
    },
  });
  return { source, read, close: () => inner.close() };
}

describe('sample counts of shard files are remembered in the node cache', () => {
  it('reopening local tars reads none of them; a tar that changed is counted again', async () => {
    const dir = join(tmp.dir, 'wds');
    await mkdir(dir);
    await writeFile(join(dir, 'a.tar'), tarOf(5));
    await writeFile(join(dir, 'b.tar'), tarOf(7, 5));
    await using cache = await openCache({ dir: join(tmp.dir, 'cache'), limit: '1gb' });
    const open = async () => {
      const s = countingSource(cache);
      await using ds = await openDataset(dir, { source: s.source });
      const n = await ds.dataset.count();
      const columns = ds.columns.map((c) => `${c.name}:${c.type}`).sort();
      await s.close();
      return { n, columns, read: s.read };
    };
    const first = await open();
    expect(first.n).toBe(12);
    expect([...first.read.keys()].sort()).toEqual(['a.tar', 'b.tar']);
    const again = await open();
    expect(again.n).toBe(12);
    expect(again.read.size).toBe(0); // counts and columns from the memo
    expect(again.columns).toEqual(first.columns);
    expect(again.columns).toEqual(expect.arrayContaining(['cls:number', 'txt:string']));
    // b.tar rewritten with one more sample: only it is read again.
    await writeFile(join(dir, 'b.tar'), tarOf(8, 5));
    const changed = await open();
    expect(changed.n).toBe(13);
    expect([...changed.read.keys()]).toEqual(['b.tar']);
    // The same size, a new modification time: counted again too.
    const later = new Date(Date.now() + 60_000);
    await utimes(join(dir, 'a.tar'), later, later);
    expect([...(await open()).read.keys()]).toEqual(['a.tar']);
    expect((await open()).read.size).toBe(0);
  });

  it('reopening remote tars asks only their versions (HEAD), no GET', async () => {
    const root = join(tmp.dir, 'www');
    await mkdir(root);
    await writeFile(join(root, 'a.tar'), tarOf(4));
    await writeFile(join(root, 'b.tar'), tarOf(6, 4));
    await writeFile(join(root, 'shards.txt'), 'a.tar\nb.tar\n');
    await using http = await startHttpServer({ root });
    await using cache = await openCache({ dir: join(tmp.dir, 'cache'), limit: '1gb' });
    const count = async () => {
      const source = new RoutingByteSource({ cache });
      try {
        await using ds = await openDataset(`${http.url}shards.txt`, { source, format: 'wds' });
        return await ds.dataset.count();
      } finally {
        await source.close();
      }
    };
    expect(await count()).toBe(10);
    const tarGets = (from: number) =>
      http.requests.slice(from).filter((r) => r.method === 'GET' && r.path.endsWith('.tar'));
    expect(tarGets(0).length).toBe(2);
    const before = http.requests.length;
    expect(await count()).toBe(10);
    expect(tarGets(before)).toEqual([]);
    // A changed object (new size and ETag) is streamed again, the other is not.
    await writeFile(join(root, 'a.tar'), tarOf(3));
    const mid = http.requests.length;
    expect(await count()).toBe(9);
    expect(tarGets(mid).map((r) => r.path)).toEqual(['/a.tar']);
  });

  it('JSONL shards are remembered the same way', async () => {
    const dir = join(tmp.dir, 'jsonl');
    await mkdir(dir);
    for (const [f, n] of [
      ['p0.jsonl', 3],
      ['p1.jsonl', 4],
    ] as const)
      await writeFile(
        join(dir, f),
        Array.from({ length: n }, (_, i) => JSON.stringify({ i, text: `t${i}` })).join('\n'),
      );
    await using cache = await openCache({ dir: join(tmp.dir, 'cache'), limit: '1gb' });
    const open = async () => {
      const s = countingSource(cache);
      await using ds = await openDataset(dir, { source: s.source, format: 'jsonl' });
      const n = await ds.dataset.count();
      await s.close();
      return { n, read: s.read };
    };
    expect((await open()).n).toBe(7);
    const again = await open();
    expect(again.n).toBe(7);
    expect(again.read.size).toBe(0);
  });

  it('a shard rewritten between open and load is STREAMS_SHARD_CORRUPT, not a silent shift', async () => {
    const file = join(tmp.dir, 'one.tar');
    await writeFile(file, tarOf(5));
    await using ds = await openDataset(file);
    expect(await ds.dataset.count()).toBe(5);
    await writeFile(file, tarOf(3));
    const e = await error(ds.dataset.load(0));
    expect(e.code).toBe('STREAMS_SHARD_CORRUPT');
    expect(e.message).toMatch(/holds 3 samples, 5 when the dataset was opened/);
    // Reopened, it reads the new file.
    await using again = await openDataset(file);
    expect((await collect(again.samples())).map((s) => s.cls)).toEqual([0, 1, 2]);
  });
});
