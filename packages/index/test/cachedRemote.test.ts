// Random access to a remote MDS dataset whose shards are in the node cache: sample reads go to the
// cached files synchronously (as for local shards), the entries stay pinned while the source holds
// them, and a small cache budget under pressure gives right bytes or a StreamsError.
import { join } from 'node:path';
import { isStreamsError, rng } from '@streams/core';
import { type DiskCache, disposeDrivers, openCache } from '@streams/downloader';
import { startHttpServer, type TestHttpServer } from '@streams/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMdsDataset } from '../src/mdsDataset.js';
import { MdsWriter } from '../src/mdsWriter.js';
import { RoutingByteSource } from '../src/routingByteSource.js';
import { tempDir } from './fixtures.js';

const SAMPLES = 2000;
const SHARD_BYTES = 32 * 1024;

/** The payload of sample `uid`: 100 bytes that differ from every other sample's. */
function payloadOf(uid: number): Uint8Array {
  return Uint8Array.from({ length: 100 }, (_, k) => (uid * 31 + k * 7 + (uid >> 8)) & 255); // [100]
}

let tmp: Awaited<ReturnType<typeof tempDir>>;
let http: TestHttpServer;
let base: string;

beforeAll(async () => {
  tmp = await tempDir('streams-cached-remote-');
  const w = new MdsWriter({
    out: join(tmp.dir, 'ds'),
    columns: { uid: 'int', payload: 'bytes' },
    sizeLimit: SHARD_BYTES,
    hashes: ['sha1'],
  });
  for (let uid = 0; uid < SAMPLES; uid++) await w.write({ uid, payload: payloadOf(uid) });
  await w.finish();
  http = await startHttpServer({ root: tmp.dir });
  base = `${http.url}ds`;
});

afterAll(async () => {
  await disposeDrivers();
  await http.close();
  await tmp.cleanup();
});

/** A routing source whose range reads are counted: async ones, and sync ones that returned bytes. */
function countingSource(cache: DiskCache) {
  const source = new RoutingByteSource({ cache });
  const counts = { async: 0, sync: 0 };
  const readRange = source.readRange.bind(source);
  const readRangeSync = source.readRangeSync.bind(source);
  source.readRange = (url, start, end, options) => {
    counts.async++;
    return readRange(url, start, end, options);
  };
  source.readRangeSync = (url, start, end) => {
    const got = readRangeSync(url, start, end);
    if (got) counts.sync++;
    return got;
  };
  return { source, counts };
}

function expectSample(s: Record<string, unknown>, uid: number): void {
  expect(s.uid).toBe(uid);
  expect(new Uint8Array(s.payload as Uint8Array)).toEqual(payloadOf(uid));
}

describe('random get(i) of a remote MDS dataset whose shards are cached', () => {
  it('reads the cached shards synchronously, transferring nothing, with the same bytes', async () => {
    await using cache = await openCache({ dir: join(tmp.dir, 'cache-sync'), limit: '1gb' });
    const { source, counts } = countingSource(cache);
    await using ds = await openMdsDataset(base, { source, validateHashes: true });
    expect(ds.shards.length).toBeGreaterThan(4);
    // One pass in order: every shard downloaded into the cache (checked against its sha1).
    let n = 0;
    for await (const s of ds.samples()) expectSample(s, n++);
    expect(n).toBe(SAMPLES);

    const requests = http.requests.length;
    const hits = cache.stats().hits;
    const r = rng(3, 'cached-remote');
    const ids = Array.from({ length: 1000 }, () => r.int(SAMPLES));
    for (const i of ids) expectSample(await ds.get(i), i);

    // Nothing went over HTTP: every byte came from the cache.
    expect(http.requests.length).toBe(requests);
    // One async range read per shard (its offset table, which takes the hold), then sync reads:
    // the old path read every sample asynchronously, each a cache acquire.
    expect(counts.async).toBeLessThanOrEqual(ds.shards.length);
    expect(counts.sync).toBeGreaterThan(ids.length / 2);
    // At most two cache look-ups a shard (its size and its offset table, read together).
    expect(cache.stats().hits - hits).toBeLessThanOrEqual(2 * ds.shards.length);
    // The held entries stay pinned while held; closing the source lets them go.
    expect((await cache.list()).filter((e) => e.ownPins > 0).length).toBeGreaterThan(0);
    await ds.close();
    await source.close();
    await cache.refresh();
    expect((await cache.list()).filter((e) => e.ownPins > 0)).toEqual([]);
  });

  it('under a small budget and eviction pressure gives right bytes or a StreamsError', async () => {
    const dir = join(tmp.dir, 'cache-tight');
    // Room for five shards: one of them may be held (a quarter of the budget).
    const limit = 5 * SHARD_BYTES + 1024;
    await using cache = await openCache({ dir, limit });
    // Another instance on the same directory (as another process would be) fills entries of its own.
    await using other = await openCache({ dir, limit });
    const { source, counts } = countingSource(cache);
    await using _source = { [Symbol.asyncDispose]: () => source.close() };
    await using ds = await openMdsDataset(base, {
      source,
      validateHashes: true,
      shardCacheSize: 1,
    });
    const r = rng(4, 'cached-remote-evict');
    let ok = 0;
    let failed = 0;
    const filler = new Uint8Array(SHARD_BYTES); // [SHARD_BYTES]
    for (let round = 0; round < 300; round++) {
      const what = r.int(10);
      try {
        if (what === 0) {
          // A whole shard through the cache: downloads, evicting the least recently used.
          const k = r.int(ds.shards.length);
          const { offsets } = await ds.loadShard(k);
          expect(offsets.length).toBe((ds.shards[k]?.samples ?? 0) + 1);
        } else if (what === 1) {
          const h = await other.acquire(`filler/${round % 7}`, async ({ tmpPath }) => {
            const { writeFile } = await import('node:fs/promises');
            await writeFile(tmpPath, filler);
          });
          await h.release();
        } else {
          const i = r.int(SAMPLES);
          expectSample(await ds.get(i), i);
        }
        ok++;
      } catch (e) {
        // Never wrong bytes (an assertion error) and never an untyped failure.
        if (!isStreamsError(e)) throw e;
        failed++;
      }
    }
    expect(ok).toBeGreaterThan(200);
    expect(failed).toBeLessThan(ok);
    // Some reads went through held entries while the budget was under pressure.
    expect(counts.sync).toBeGreaterThan(0);

    // A held entry outlives the other instance's fills: they evict around it (or fail loudly).
    const i = SAMPLES - 1;
    const last = ds.locate(i).shard;
    await ds.loadShard(last); // cached again if it was evicted
    expectSample(await ds.get(i - 1), i - 1); // its offset table: the hold
    const held = (await cache.list()).find((e) => e.ownPins > 0);
    expect(held).toBeDefined();
    for (let k = 0; k < 8; k++) {
      const h = await other
        .acquire(`filler/pressure-${k}`, async ({ tmpPath }) => {
          const { writeFile } = await import('node:fs/promises');
          await writeFile(tmpPath, filler);
        })
        .catch((e: unknown) => {
          if (!isStreamsError(e, 'STREAMS_CACHE_TOO_SMALL')) throw e;
        });
      await h?.release();
    }
    expect((await other.list()).map((e) => e.key)).toContain(held?.key);
    const sync = counts.sync;
    expectSample(await ds.get(i), i);
    expect(counts.sync).toBe(sync + 1);
    // The entry removed behind the hold (this instance's own pins do not stop `remove`): the
    // bytes still come right, from the open file or from the object looked up again.
    expect(await cache.remove(held?.key as string)).toBe(true);
    for (let j = SAMPLES - 40; j < SAMPLES; j++) expectSample(await ds.get(j), j);
    const audit = await cache.audit();
    expect(audit.problems).toEqual([]);
    expect(audit.recordedBytes).toBeLessThanOrEqual(limit);
  });
});
