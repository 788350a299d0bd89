// StreamingDataset over every registered shard format: WebDataset tars, JSONL and CSV shards, index
// tables whose rows name files fetched through the downloader into the node cache, and a format
// registered from this test. Each is shuffled over an epoch (every sample once), read by `get(i)`,
// and three formats are mixed with proportions and resumed under another world size. WebDataset
// is read twice: counted from its tars, and from the wids shard index the writer puts next to them
// (served over HTTP: no tar is asked for at open).
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createFetchEngine } from '@streams/downloader';
import {
  readTarBytes,
  registerFormat,
  type Sample,
  WdsWriter,
  wdsGroupsOf,
  wdsSampleOf,
} from '@streams/index';
import { linesFormat, startHttpServer, type TestHttpServer } from '@streams/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamingDatasetOptions } from '../src/datasetOptions.js';
import type { DatasetState } from '../src/datasetState.js';
import { StreamingDataset } from '../src/streamingDataset.js';
import { payloadOf, tempDir, writeMds } from './fixtures.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let server: TestHttpServer;
let unregister: () => void;
const N = { mds: 40, wds: 30, jsonl: 11, csv: 9, table: 25, lines: 7, wids: 26 };
const range = (n: number, base: number) => Array.from({ length: n }, (_, i) => base + i);

/** The uid each format's samples carry (tag * 1e6 + index), as its decoder gives it back. */
const uidOf: Record<string, (s: Sample) => number> = {
  mds: (s) => s.uid as number,
  wds: (s) => s.cls as number,
  jsonl: (s) => s.uid as number,
  csv: (s) => s.uid as number,
  table: (s) => s.uid as number,
  lines: (s) => Number(s.text),
  wids: (s) => s.cls as number,
};

beforeAll(async () => {
  tmp = await tempDir();
  const d = tmp.dir;
  await writeMds(join(d, 'mds'), { n: N.mds, tag: 1, sizeLimit: 400 });
  const w = new WdsWriter({ out: join(d, 'wds'), maxShardSamples: 7 });
  for (const uid of range(N.wds, 2e6))
    await w.write({ __key__: `w${uid}`, cls: uid, bin: payloadOf(uid, 24) });
  await w.finish();
  // Counted from the tars: without the shard index the writer puts next to them.
  await rm(join(d, 'wds', 'shardindex.json'));
  const wi = new WdsWriter({ out: join(d, 'www', 'wids'), maxShardSamples: 6 });
  for (const uid of range(N.wids, 7e6))
    await wi.write({ __key__: `w${uid}`, cls: uid, bin: payloadOf(uid, 24) });
  await wi.finish();
  await mkdir(join(d, 'jsonl'));
  await writeFile(
    join(d, 'jsonl', 'a.jsonl'),
    range(6, 3e6)
      .map((uid) => JSON.stringify({ uid, text: `t${uid}` }))
      .join('\n'),
  );
  await writeFile(
    join(d, 'jsonl', 'b.jsonl'),
    range(5, 3e6 + 6)
      .map((uid) => JSON.stringify({ uid, text: `t${uid}` }))
      .join('\n'),
  );
  await mkdir(join(d, 'csv'));
  await writeFile(
    join(d, 'csv', 'a.csv'),
    `uid,name\n${range(4, 4e6)
      .map((u) => `${u},n${u}`)
      .join('\n')}\n`,
  );
  await writeFile(
    join(d, 'csv', 'b.csv'),
    `uid,name\n${range(5, 4e6 + 4)
      .map((u) => `${u},n${u}`)
      .join('\n')}\n`,
  );
  // An index table served over HTTP: each row names a file next to it, with its size.
  await mkdir(join(d, 'www', 'table', 'files'), { recursive: true });
  const rows = ['uid,url,size'];
  for (const uid of range(N.table, 5e6)) {
    await writeFile(join(d, 'www', 'table', 'files', `${uid}.bin`), payloadOf(uid, 40));
    rows.push(`${uid},files/${uid}.bin,40`);
  }
  await writeFile(join(d, 'www', 'table', 'index.csv'), `${rows.join('\n')}\n`);
  await mkdir(join(d, 'lines'));
  await writeFile(join(d, 'lines', 'a.lines'), `${range(N.lines, 6e6).join('\n')}\n`);
  server = await startHttpServer({ root: join(d, 'www') });
  unregister = registerFormat(linesFormat);
});

afterAll(async () => {
  unregister();
  await server.close();
  await tmp.cleanup();
});

/** Where each format's stream is, and its tag. */
function streamOf(format: string): { local?: string; remote?: string; format?: string } {
  if (format === 'table') return { remote: `${server.url}table/index.csv`, format: 'table' };
  if (format === 'wids') return { remote: `${server.url}wids/shardindex.json` };
  return { local: join(tmp.dir, format) };
}

/** A sample as [field, type, value] rows (bytes as hex): equal rows, equal fields and types. */
function rowsOf(s: Record<string, unknown>): unknown[] {
  return Object.entries(s).map(([k, v]) => [
    k,
    v?.constructor?.name ?? typeof v,
    v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v,
  ]);
}

const TAGS = { mds: 1, wds: 2, jsonl: 3, csv: 4, table: 5, lines: 6, wids: 7 } as const;

describe('StreamingDataset reads every format', () => {
  for (const format of Object.keys(TAGS) as (keyof typeof TAGS)[]) {
    it(`${format}: a shuffled epoch holds every sample once, get(i) returns sample i`, async () => {
      const uid = uidOf[format]!;
      await using ds = await StreamingDataset.open({
        ...streamOf(format),
        cacheDir: join(tmp.dir, `cache-${format}`),
        seed: 7,
        world: { rank: 0, worldSize: 1 },
      });
      const byId = new Map<number, number>();
      const read: number[] = [];
      for await (const { sample, info } of ds.entries()) {
        read.push(uid(sample));
        byId.set(info.id, uid(sample));
        if (format === 'table') expect(sample.url).toEqual(payloadOf(sample.uid as number, 40)); // the row's file
        if (format === 'wds' || format === 'wids')
          expect(sample.bin).toEqual(payloadOf(sample.cls as number, 24));
      }
      const expected = range(N[format], TAGS[format] * 1e6);
      expect([...read].sort((a, b) => a - b)).toEqual(expected);
      // Shuffled: not the stored order (7+ samples under seed 7).
      expect(read).not.toEqual(expected);
      for (const i of [0, N[format] - 1, Math.floor(N[format] / 2)])
        expect(uid(await ds.get(i))).toBe(byId.get(i));
    });
  }

  it('WebDataset: each sample is what wdsSampleOf makes of the tar, stored or shuffled, first open or reopen', async () => {
    const dir = join(tmp.dir, 'wds-rich');
    const w = new WdsWriter({ out: dir, maxShardSamples: 9 });
    for (let i = 0; i < 40; i++)
      await w.write({
        __key__: `r/${i}`,
        cls: i,
        txt: `t${i}`,
        json: { i, odd: i % 2 === 1 },
        bin: payloadOf(i, i % 5),
      });
    await w.finish();
    // The reference: the tar reader over each tar in stored order, samples by wdsSampleOf (as
    // the dataset made them before tars were indexed).
    const want: unknown[] = [];
    for (const f of (await readdir(dir)).filter((n) => n.endsWith('.tar')).sort()) {
      const url = join(dir, f);
      const b = await readFile(url);
      const bytes = new Uint8Array(b.buffer, b.byteOffset, b.length); // as the dataset reads it
      for (const g of wdsGroupsOf(readTarBytes(bytes, { url }), url))
        want.push(rowsOf(wdsSampleOf(g, url)));
    }
    expect(want).toHaveLength(40);
    const cacheDir = join(tmp.dir, 'cache-wds-rich');
    for (const shuffle of [false, true])
      for (const open of ['first', 'reopen']) {
        const cache = shuffle ? `${cacheDir}-shuffled` : cacheDir; // a first open counts each tar
        await using ds = await StreamingDataset.open({
          local: dir,
          cacheDir: cache,
          shuffle,
          seed: 5,
        });
        const got: unknown[] = [];
        const ids: number[] = [];
        for await (const { sample, info } of ds.entries()) {
          got.push(rowsOf(sample));
          ids.push(info.id);
        }
        expect(got, `${open}, shuffle ${shuffle}`).toEqual(ids.map((id) => want[id]));
        expect([...ids].sort((a, b) => a - b)).toEqual(range(40, 0));
      }
  });

  it('index table: row files go through the node cache (a second dataset fetches none)', async () => {
    const cacheDir = join(tmp.dir, 'cache-table-twice');
    const fileGets = () =>
      server.requests.filter((r) => r.method === 'GET' && r.path.includes('/files/')).length;
    const before = fileGets();
    for (let round = 0; round < 2; round++) {
      await using ds = await StreamingDataset.open({ ...streamOf('table'), cacheDir, seed: 3 });
      let n = 0;
      for await (const s of ds) {
        expect(s.url).toEqual(payloadOf(s.uid as number, 40));
        n++;
      }
      expect(n).toBe(N.table);
      expect(fileGets() - before).toBe(N.table); // all in round 0, none in round 1
    }
  });

  it('index table: columnsToDownload [] reads metadata only (no file is fetched)', async () => {
    const fileGets = () =>
      server.requests.filter((r) => r.method === 'GET' && r.path.includes('/files/')).length;
    const before = fileGets();
    await using ds = await StreamingDataset.open({
      ...streamOf('table'),
      columnsToDownload: [],
      cacheDir: join(tmp.dir, 'cache-meta'),
    });
    const urls: unknown[] = [];
    for await (const s of ds) urls.push(s.url);
    expect(urls).toHaveLength(N.table);
    expect(urls.every((u) => typeof u === 'string' && /files\/\d+\.bin$/.test(u))).toBe(true);
    expect(fileGets()).toBe(before);
  });

  it('index table: rows whose file is missing or of the wrong size are skipped and reported', async () => {
    const dir = join(tmp.dir, 'www', 'broken');
    await mkdir(join(dir, 'files'), { recursive: true });
    const rows = ['uid,url,size'];
    for (const uid of range(8, 7e6)) {
      await writeFile(join(dir, 'files', `${uid}.bin`), payloadOf(uid, 10));
      const name = uid === 7e6 + 2 ? 'gone.bin' : `${uid}.bin`;
      rows.push(`${uid},files/${name},${uid === 7e6 + 5 ? 11 : 10}`);
    }
    await writeFile(join(dir, 'index.csv'), `${rows.join('\n')}\n`);
    const opts = {
      remote: `${server.url}broken/index.csv`,
      format: 'table',
      cacheDir: join(tmp.dir, 'cache-broken'),
      downloadRetry: 0,
    };
    await using skip = await StreamingDataset.open({ ...opts, decodePolicy: 'skip' });
    const read: number[] = [];
    for await (const s of skip) read.push(s.uid as number);
    expect(read.sort((a, b) => a - b)).toEqual(
      range(8, 7e6).filter((u) => u !== 7e6 + 2 && u !== 7e6 + 5),
    );
    expect(skip.metrics().skipped).toBe(2);
    const report = [...skip.skipped()].sort((a, b) => a.sample - b.sample);
    expect(report.map((r) => [r.sample, r.code])).toEqual([
      [2, 'STREAMS_NOT_FOUND'],
      [5, 'STREAMS_SIZE_MISMATCH'],
    ]);
    expect(report[0]!.shard).toMatch(/index\.csv rows 0-7/);
    await using strict = await StreamingDataset.open(opts);
    const e = await (async () => {
      for await (const _ of strict);
    })().catch((err: unknown) => err as { code: string; message: string });
    expect(e?.code).toMatch(/^STREAMS_(NOT_FOUND|SIZE_MISMATCH)$/);
    expect(e?.message).toMatch(/shard index\.csv rows 0-7, sample [25]\)/);
  });
});

describe('StreamingDataset fetches through one path', () => {
  it("a remote MDS stream's index.json and shards go through the dataset's engine and node cache", async () => {
    await writeMds(join(tmp.dir, 'www', 'mds'), { n: 30, tag: 8, sizeLimit: 300 });
    const cacheDir = join(tmp.dir, 'cache-engine');
    const fetched: string[] = [];
    const engine = createFetchEngine();
    engine.events.on((e) => {
      if (e.name === 'download.done') fetched.push(String(e.attrs?.url));
    });
    const remote = `${server.url}mds`;
    const epoch = async () => {
      await using ds = await StreamingDataset.open({ remote, cacheDir, engine, seed: 1 });
      const uids: number[] = [];
      for await (const s of ds) uids.push(s.uid as number);
      return uids.sort((a, b) => a - b);
    };
    expect(await epoch()).toEqual(range(30, 8e6));
    expect(fetched).toContain(`${remote}/index.json`);
    expect(fetched.filter((u) => u.endsWith('.mds')).length).toBeGreaterThan(1);
    const before = server.requests.length;
    expect(await epoch()).toEqual(range(30, 8e6));
    expect(server.requests.slice(before)).toEqual([]); // index and shards from the cache
  });
});

describe('StreamingDataset mixes formats', () => {
  for (const wds of ['wds', 'wids'] as const)
    it(`MDS + WebDataset (${wds}) + index table with proportions: shares as resolved; resume under another world`, async () => {
      const options: StreamingDatasetOptions<Sample> = {
        streams: [
          { ...streamOf('mds'), proportion: 0.5 },
          { ...streamOf(wds), proportion: 0.3 },
          { ...streamOf('table'), proportion: 0.2 },
        ],
        epochSize: 60,
        seed: 11,
        cacheDir: join(tmp.dir, `cache-mix-${wds}`),
        shuffleBlockSize: 16,
      };
      const tag = (s: Sample) => (s.cls !== undefined ? (s.cls as number) : (s.uid as number)); // wds carries its uid in cls
      const seen: { uid: number; stream: number; id: number }[] = [];
      let state: DatasetState | undefined;
      let plan: number[] = [];
      let choose: readonly number[] = [];
      // World of 2 reads 9 samples per rank, then world 3 finishes the epoch.
      for (let rank = 0; rank < 2; rank++) {
        await using ds = await StreamingDataset.open({ ...options, world: { rank, worldSize: 2 } });
        let k = 0;
        for await (const { sample, info } of ds.entries()) {
          if (!info.padding) seen.push({ uid: tag(sample), stream: info.stream, id: info.id });
          if (++k === 9) break;
        }
        state = ds.stateDict();
        plan = [...ds.plan().ids];
        choose = ds.weights.choose;
      }
      for (let rank = 0; rank < 3; rank++) {
        await using ds = await StreamingDataset.open({ ...options, world: { rank, worldSize: 3 } });
        ds.loadStateDict(state!);
        for await (const { sample, info } of ds.entries())
          if (!info.padding) seen.push({ uid: tag(sample), stream: info.stream, id: info.id });
      }
      expect(seen.map((x) => x.id).sort((a, b) => a - b)).toEqual(plan.sort((a, b) => a - b));
      expect(choose).toEqual([30, 18, 12]);
      expect([0, 1, 2].map((s) => seen.filter((x) => x.stream === s).length)).toEqual(choose);
      // Each sample decoded from its own stream's format.
      for (const x of seen) expect(Math.floor(x.uid / 1e6)).toBe([1, TAGS[wds], 5][x.stream]);
    });

  it('a remote WebDataset with no shard index: one epoch after open costs one GET per tar', async () => {
    // The counted WebDataset's tars, served over HTTP with a list of them.
    const www = join(tmp.dir, 'www', 'wds-counted');
    await mkdir(www);
    const tars = (await readdir(join(tmp.dir, 'wds'))).filter((n) => n.endsWith('.tar')).sort();
    for (const f of tars) await writeFile(join(www, f), await readFile(join(tmp.dir, 'wds', f)));
    await writeFile(join(www, 'shards.txt'), `${tars.join('\n')}\n`);
    const before = server.requests.length;
    await using ds = await StreamingDataset.open({
      remote: `${server.url}wds-counted/shards.txt`,
      format: 'wds',
      cacheDir: join(tmp.dir, 'cache-wds-counted'),
      seed: 2,
      world: { rank: 0, worldSize: 1 },
    });
    expect(ds.epochLength).toBe(N.wds);
    const uids: number[] = [];
    for await (const s of ds) uids.push(s.cls as number);
    expect(uids.sort((a, b) => a - b)).toEqual(range(N.wds, 2e6));
    // Each tar downloaded once, into the cache, to count it at open; the epoch's loads hit it.
    const gets = server.requests
      .slice(before)
      .filter((r) => r.method === 'GET' && r.path.endsWith('.tar'))
      .map((r) => r.path)
      .sort();
    expect(gets).toEqual(tars.map((f) => `/wds-counted/${f}`));
  });

  it('a remote wids shard index opens with no request for any tar; the counts are the index', async () => {
    const before = server.requests.length;
    await using ds = await StreamingDataset.open({
      ...streamOf('wids'),
      cacheDir: join(tmp.dir, 'cache-wids-open'),
      seed: 1,
      world: { rank: 0, worldSize: 1 },
    });
    expect(ds.epochLength).toBe(N.wids);
    const atOpen = server.requests.slice(before);
    expect(atOpen.some((r) => r.path.endsWith('/wids/shardindex.json'))).toBe(true);
    expect(atOpen.filter((r) => r.path.includes('.tar'))).toEqual([]);
    // A local directory holding the index opens the same way.
    await using local = await StreamingDataset.open({
      local: join(tmp.dir, 'www', 'wids'),
      seed: 1,
      world: { rank: 0, worldSize: 1 },
    });
    expect(local.epochLength).toBe(N.wids);
  });
});
