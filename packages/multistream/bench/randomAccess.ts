// Random access: `get(i)` of 100-byte samples in a random order over local MDS shards, against a
// raw `fs.readSync` loop over the same byte ranges (the shards' offset tables held in memory), in
// paired rounds, alternating which side goes first (medians of 7):
//  - warm: the shards are in the page cache;
//  - cold: before each round both sides' shard files are dropped from the page cache file by file
//    (`dd iflag=nocache count=0`, posix_fadvise DONTNEED: no root, nothing global); the datasets
//    are opened (offset tables read) before the drop, as the raw loop knows its offsets.
// Both `openMdsDataset().get(i)` (@streams/index) and `StreamingDataset.get(i)` are measured.
// Then the same dataset served by a `node:http` server on 127.0.0.1 and read through a node cache
// that already holds every shard (warm): `openMdsDataset(url).get(i)` against the raw loop over the
// cached files themselves.
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { rng } from '@streams/core';
import { openCache } from '@streams/downloader';
import {
  cacheKeyOf,
  MdsWriter,
  mdsShardOffsets,
  openMdsDataset,
  RoutingByteSource,
} from '@streams/index';
import {
  type BenchEntry,
  benchEntry,
  median,
  pairedRounds,
  startHttpServer,
} from '@streams/testkit';
import { StreamingDataset } from '../src/index.js';

const SAMPLES = 400_000;
const WARM_GETS = 50_000;
const COLD_GETS = 5_000;
const ROUNDS = 7;

/** Drops the files from the page cache (GNU dd: posix_fadvise DONTNEED over the whole file). */
function dropCache(files: readonly string[]): boolean {
  try {
    for (const f of files)
      execFileSync('dd', [`if=${f}`, 'iflag=nocache', 'count=0'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Entries of the random-access benchmark (see the header). */
export async function randomAccessBench(): Promise<BenchEntry[]> {
  const root = await mkdtemp(join(tmpdir(), 'streams-random-'));
  try {
    const dir = join(root, 'ds');
    // 4 MiB shards: ~10 shards, so the order crosses shards as a real dataset does.
    const w = new MdsWriter({
      out: dir,
      columns: { uid: 'int', payload: 'bytes' },
      sizeLimit: 4 << 20,
    });
    const payload = new Uint8Array(100).fill(7);
    for (let i = 0; i < SAMPLES; i++) await w.write({ uid: i, payload });
    await w.finish();
    const files = (await readdir(dir)).filter((f) => f.endsWith('.mds')).map((f) => join(dir, f));

    // The raw side: every shard's offset table in memory, one fd per shard.
    const mds = await openMdsDataset(dir);
    const offsets = await Promise.all(
      mds.shards.map(async (s) =>
        mdsShardOffsets(await readFile(join(dir, s.basename)), s.samples),
      ),
    );
    const fds = mds.shards.map((s) => openSync(join(dir, s.basename), 'r'));
    const r = rng(1, 'random-access');
    const order = (n: number) => Uint32Array.from({ length: n }, () => r.int(SAMPLES)); // [n]
    const raw = (ids: Uint32Array, fds: readonly number[]) => {
      const buf = Buffer.allocUnsafe(1 << 16);
      let bytes = 0;
      const t0 = performance.now();
      for (const i of ids) {
        const { shard, index } = mds.locate(i);
        const o = offsets[shard]!;
        const len = o[index + 1]! - o[index]!;
        bytes += readSync(fds[shard]!, buf, 0, len, o[index]!);
      }
      const s = (performance.now() - t0) / 1000;
      if (bytes === 0) throw new Error('raw loop read nothing');
      return ids.length / s;
    };
    const streaming = await StreamingDataset.open({ local: dir, world: { rank: 0, worldSize: 1 } });
    const ours = async (get: (i: number) => Promise<Record<string, unknown>>, ids: Uint32Array) => {
      let c = 0;
      const t0 = performance.now();
      for (const i of ids) c += ((await get(i)).payload as Uint8Array).length === 100 ? 1 : 0;
      const s = (performance.now() - t0) / 1000;
      if (c !== ids.length) throw new Error('get(i) returned wrong samples');
      return ids.length / s;
    };
    const viaIndex = (i: number) => mds.get(i);
    const viaDataset = (i: number) => streaming.get(i) as Promise<Record<string, unknown>>;
    const entries: BenchEntry[] = [];
    try {
      // Warm-up (JIT, page cache, offset tables of every shard).
      const warm = order(WARM_GETS);
      raw(warm, fds);
      await ours(viaIndex, warm);
      await ours(viaDataset, warm);
      for (const cold of [false, true]) {
        for (const [label, get] of [
          ['openMdsDataset().get(i)', viaIndex],
          ['StreamingDataset.get(i)', viaDataset],
        ] as const) {
          const rawRates: number[] = [];
          const ourRates: number[] = [];
          let dropped = true;
          for (let k = 0; k < ROUNDS; k++) {
            const ids = order(cold ? COLD_GETS : WARM_GETS);
            // Paired rounds, the side that goes first alternating (disk and CPU load drift).
            for (const side of k % 2 === 0 ? [0, 1] : [1, 0]) {
              if (cold) dropped &&= dropCache(files);
              if (side === 0) rawRates.push(raw(ids, fds));
              else ourRates.push(await ours(get, ids));
            }
          }
          const cache = !cold
            ? 'warm page cache'
            : dropped
              ? 'cold (files dropped from the page cache)'
              : 'page cache NOT dropped (dd iflag=nocache failed)';
          entries.push(
            benchEntry({
              name: `random get(i), local MDS, 100 B samples, ${cache}: ${label}`,
              unit: 'samples/s',
              value: median(ourRates),
              reference: 'raw fs.readSync loop over the same offsets',
              referenceValue: median(rawRates),
              target: cold ? 0.8 : 0.5,
            }),
          );
        }
      }
      entries.push(...(await remoteCached(root, dir, mds.shards.length, raw, ours, order)));
    } finally {
      for (const fd of fds) closeSync(fd);
      await mds.close();
      await streaming.close();
    }
    return entries;
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/**
 * Warm random `get(i)` of the dataset in `dir` served over `node:http` (127.0.0.1), every shard in
 * the node cache, against the raw `readSync` loop over the cached files.
 */
async function remoteCached(
  root: string,
  dir: string,
  shards: number,
  raw: (ids: Uint32Array, fds: readonly number[]) => number,
  ours: (get: (i: number) => Promise<Record<string, unknown>>, ids: Uint32Array) => Promise<number>,
  order: (n: number) => Uint32Array,
): Promise<BenchEntry[]> {
  await using http = await startHttpServer({ root: dir });
  await using cache = await openCache({ dir: join(root, 'cache'), limit: '1gb', fsync: false });
  const source = new RoutingByteSource({ cache });
  const url = http.url.replace(/\/$/, '');
  const ds = await openMdsDataset(url, { source });
  const fds: number[] = [];
  try {
    // One pass over the shards: each downloaded into the cache once.
    for (let k = 0; k < shards; k++) await ds.loadShard(k);
    const byKey = new Map((await cache.list()).map((e) => [e.key, e.path]));
    for (let k = 0; k < shards; k++) {
      const path = byKey.get(cacheKeyOf(ds.shardUrl(k)));
      if (path === undefined) throw new Error(`shard ${k} is not in the cache`);
      fds.push(openSync(path, 'r'));
    }
    const get = (i: number) => ds.get(i) as Promise<Record<string, unknown>>;
    const requests = http.requests.length;
    const ids = order(WARM_GETS);
    const { a, b } = await pairedRounds(
      () => ours(get, ids),
      async () => raw(ids, fds),
      { rounds: ROUNDS, warmup: 1 },
    );
    if (http.requests.length !== requests) throw new Error('warm get(i) went over HTTP');
    // The same through a StreamingDataset over the remote URL, its own node cache filled by a first
    // pass of get(i): it holds whole shards (the unit pool, within its budget) as for local ones.
    await using streaming = await StreamingDataset.open({
      remote: url,
      cacheDir: join(root, 'cache-streaming'),
      world: { rank: 0, worldSize: 1 },
    });
    const viaDataset = (i: number) => streaming.get(i) as Promise<Record<string, unknown>>;
    await ours(viaDataset, order(WARM_GETS));
    const before = http.requests.length;
    const d = await pairedRounds(
      () => ours(viaDataset, ids),
      async () => raw(ids, fds),
      { rounds: ROUNDS, warmup: 1 },
    );
    if (http.requests.length !== before)
      throw new Error('warm StreamingDataset.get(i) went over HTTP');
    const name = (label: string) =>
      `random get(i), remote (node:http) MDS, 100 B samples, shards in the node cache, warm: ${label}`;
    return [
      benchEntry({
        name: name('openMdsDataset().get(i)'),
        unit: 'samples/s',
        value: a,
        reference: 'raw fs.readSync loop over the cached files',
        referenceValue: b,
        target: 0.5,
      }),
      benchEntry({
        name: name('StreamingDataset.get(i)'),
        unit: 'samples/s',
        value: d.a,
        reference: 'raw fs.readSync loop over the cached files',
        referenceValue: d.b,
        target: 0.5,
      }),
    ];
  } finally {
    for (const fd of fds) closeSync(fd);
    await ds.close();
    await source.close();
  }
}

// Run on its own (`tsx --conditions=@streams/source bench/randomAccess.ts`): prints the entries.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href)
  for (const e of await randomAccessBench()) console.log(JSON.stringify(e));
