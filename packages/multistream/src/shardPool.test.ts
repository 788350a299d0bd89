import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from '@streams/core';
import { createFetchEngine } from '@streams/downloader';
import type { LoadedUnit } from '@streams/index';
import { describe, expect, it } from 'vitest';
import { ShardPool } from './shardPool.js';
import { StreamingDataset } from './streamingDataset.js';

/** A pool whose unit k loads as k bytes in memory; records loads and releases. */
function pool(memoryLimit: number, lingerBytes = memoryLimit) {
  const loads: number[] = [];
  const released: number[] = [];
  const unit = (k: number): LoadedUnit => ({
    samples: 1,
    memoryBytes: k,
    hit: true,
    decode: () => ({ k }),
    release: async () => {
      released.push(k);
    },
  });
  const p = new ShardPool(
    Number.POSITIVE_INFINITY,
    async (k) => {
      loads.push(k);
      return unit(k);
    },
    lingerBytes,
    memoryLimit,
  );
  return { p, loads, released };
}

const settle = () => new Promise((r) => setImmediate(r));

describe('ShardPool under a memory limit', () => {
  it('starts loads only while resident bytes fit; lingering units make room, oldest first', async () => {
    const { p, loads, released } = pool(100);
    p.ref(40, 0, 40);
    p.ref(41, 0, 41);
    p.ref(42, 0, 42); // 40 + 41 + 42 > 100: waits
    await settle();
    expect(loads).toEqual([40, 41]);
    expect(p.residentBytes).toBe(81);
    expect(p.queueDepth).toBe(1);
    p.unref(40); // lingers, so 42 can take its room
    await settle();
    expect(loads).toEqual([40, 41, 42]);
    expect(released).toEqual([40]);
    expect(p.residentBytes).toBe(83);
    expect((await p.get(42)).memoryBytes).toBe(42);
    await p.close();
  });

  it('the unit the consumer waits on starts beyond the limit (no deadlock), one at a time', async () => {
    const { p, loads } = pool(50);
    p.ref(40, 0, 40);
    p.ref(30, 0, 30);
    p.ref(20, 0, 20);
    await settle();
    expect(loads).toEqual([40]);
    p.urge(20);
    p.urge(30); // waits for the overdraft in flight to settle
    expect((await p.get(20)).memoryBytes).toBe(20);
    await settle();
    expect(loads).toEqual([40, 20, 30]);
    expect(p.residentBytes).toBe(90);
    await p.close();
  });

  it('a unit referenced without lingering leaves memory with its last reference', async () => {
    const { p, released } = pool(1000);
    p.ref(7, 0, 7, false);
    await p.get(7);
    await settle();
    expect(p.residentBytes).toBe(7);
    p.unref(7);
    await settle();
    expect(p.residentBytes).toBe(0);
    expect(released).toEqual([7]);
    // A lingering one stays, counted, until the limit needs its room.
    p.ref(8, 0, 8);
    await p.get(8);
    p.unref(8);
    await settle();
    expect(p.residentBytes).toBe(8);
    await p.close();
  });

  it('counts a loaded unit at its own size, not the estimate it was referenced with', async () => {
    const { p } = pool(100);
    p.ref(10, 0, 60);
    p.ref(20, 0, 60); // 120 estimated: waits
    expect(p.queueDepth).toBe(1);
    await p.get(10); // loads as 10 bytes: 20 now fits
    await settle();
    expect(p.queueDepth).toBe(0);
    await p.get(20);
    expect(p.residentBytes).toBe(30);
    await p.close();
  });
});

/** A pool whose loads wait until the test finishes them; records the order loads start in. */
function gated(maxDownloads: number) {
  const started: number[] = [];
  const finish = new Map<number, () => void>();
  const p = new ShardPool(
    Number.POSITIVE_INFINITY,
    (k) =>
      new Promise<LoadedUnit>((resolve) => {
        started.push(k);
        finish.set(k, () =>
          resolve({
            samples: 1,
            memoryBytes: 1,
            hit: false,
            decode: () => ({ k }),
            release: async () => {},
          }),
        );
      }),
    0,
    Number.POSITIVE_INFINITY,
    maxDownloads,
  );
  return { p, started, finish };
}

describe('ShardPool with a bound on downloads at once', () => {
  it('starts downloads in plan order, at most that many at once; loads that download nothing are not counted', async () => {
    const { p, started, finish } = gated(2);
    p.ref(50, 0, 10); // a chunk of an index: nothing to download
    for (let k = 1; k <= 5; k++) p.ref(k, 100, 100, false);
    await settle();
    expect(started).toEqual([50, 1, 2]);
    expect(p.downloads).toBe(2);
    expect(p.queueDepth).toBe(3);
    finish.get(1)!();
    await p.get(1);
    await settle();
    expect(started).toEqual([50, 1, 2, 3]);
    finish.get(2)!();
    finish.get(3)!();
    await settle();
    expect(started).toEqual([50, 1, 2, 3, 4, 5]);
    expect(p.downloads).toBe(2);
    for (const k of [4, 5, 50]) finish.get(k)!();
    await p.close();
  });

  it('the load the consumer waits on starts beyond the bound', async () => {
    const { p, started, finish } = gated(1);
    for (let k = 1; k <= 3; k++) p.ref(k, 100, 100, false);
    await settle();
    expect(started).toEqual([1]);
    p.urge(3);
    await settle();
    expect(started).toEqual([1, 3]);
    for (const k of [1, 3]) finish.get(k)!();
    await settle();
    expect(started).toEqual([1, 3, 2]);
    finish.get(2)!();
    await p.close();
  });
});

describe('ShardPool urges', () => {
  it('start the loads the consumer waits on in the order it asked for them', async () => {
    const { p, started, finish } = gated(1);
    for (let k = 1; k <= 5; k++) p.ref(k, 100, 100, false);
    p.urge(3); // beyond the bound, at once
    p.urge(4);
    p.urge(5);
    await settle();
    expect(started).toEqual([1, 3]);
    finish.get(1)!();
    finish.get(3)!();
    await settle();
    expect(started).toEqual([1, 3, 4, 5]); // 4 within the bound, 5 beyond it
    finish.get(4)!();
    finish.get(5)!();
    await settle();
    expect(started).toEqual([1, 3, 4, 5, 2]);
    finish.get(2)!();
    await p.close();
  });
});

describe("an index-table stream's row downloads", () => {
  it('start a few at a time (twice the engine transfers), in plan order, not the whole window at once', async () => {
    const n = 40;
    const csv = ['uid,url,size', ...Array.from({ length: n }, (_, i) => `${i},f/${i}.bin,4`)];
    // Row files are held until the test lets them go; the server records the order they are asked in.
    const held: ServerResponse[] = [];
    const asked: number[] = [];
    let release = false;
    let inFlight = 0;
    let maxInFlight = 0;
    const send = (res: ServerResponse) => {
      res.on('close', () => inFlight--);
      res.end(Buffer.from([1, 2, 3, 4]));
    };
    const server = createServer((req, res) => {
      if (req.url === '/index.csv') return res.end(`${csv.join('\n')}\n`);
      asked.push(Number(/^\/f\/(\d+)\.bin$/.exec(req.url ?? '')?.[1]));
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      res.setHeader('content-length', '4');
      if (release) send(res);
      else held.push(res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const cacheDir = await mkdtemp(join(tmpdir(), 'streams-ramp-'));
    try {
      await using ds = await StreamingDataset.open({
        remote: `${base}/index.csv`,
        format: 'table',
        cacheDir,
        seed: 5,
        world: { rank: 0, worldSize: 1 },
        predownload: n,
        engine: createFetchEngine({ concurrency: 2, perHost: 2 }),
      });
      const it = ds[Symbol.asyncIterator]();
      const first = it.next();
      while (held.length < 2) await sleep(2); // the engine's two transfers are out
      // Four rows started (and the one the consumer waits on, beyond the bound): the rest of the
      // window waits its turn instead of running its cache steps and queueing at the engine.
      expect(ds.metrics().queueDepth).toBeGreaterThanOrEqual(n - 5);
      release = true;
      for (const res of held.splice(0)) send(res);
      const uids = [((await first).value as { uid: number }).uid];
      for (let r = await it.next(); !r.done; r = await it.next())
        uids.push((r.value as { uid: number }).uid);
      expect([...uids].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
      // The window's head first: requests leave in plan order (two at a time, so two sent
      // together may arrive swapped).
      expect(asked).toHaveLength(n);
      for (let k = 0; k < n; k++) expect(uids.slice(0, k + 2)).toContain(asked[k]);
      expect(maxInFlight).toBeLessThanOrEqual(2);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await rm(cacheDir, { recursive: true, force: true });
    }
  });
});
