import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StreamsEvent } from '@streams/core';
import {
  FAULT_KINDS,
  startFaultProxy,
  startGcsEmulator,
  startHttpServer,
  startS3Server,
} from '@streams/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Driver } from '../src/driver.js';
import { gcsDriver } from '../src/drivers/gcs.js';
import { httpDriver } from '../src/drivers/http.js';
import { s3Driver } from '../src/drivers/s3.js';
import { createFetchEngine } from '../src/fetchEngine.js';
import { testBytes } from './driverSuite.js';

/** Tiny objects of varied sizes, so that a 2,000-object run takes seconds. */
function objects(n: number): { name: string; data: Uint8Array; sha256: string }[] {
  return Array.from({ length: n }, (_, i) => {
    const data = testBytes(64 + ((i * 37) % 1500), i + 1);
    return {
      name: `obj/${String(i).padStart(5, '0')}.bin`,
      data,
      sha256: createHash('sha256').update(data).digest('hex'),
    };
  });
}

/**
 * Downloads every object through a proxy that faults 20% of requests (all kinds), with the
 * prefetch queue, then checks every file, the absence of partial files, and the events.
 */
async function faultedRun(opts: {
  driver: Driver;
  base: string;
  count: number;
  proxyUrl: string;
  out: string;
}) {
  const objs = objects(opts.count);
  const engine = createFetchEngine({
    seed: 11,
    concurrency: 32,
    perHost: 32,
    maxAttempts: 12,
    backoffBaseMs: 1,
    backoffMaxMs: 10,
    stallTimeoutMs: 150,
    driverFor: () => opts.driver,
  });
  const events: StreamsEvent[] = [];
  engine.events.on((e) => events.push(e));
  const queue = engine.prefetch({ depth: 64, progressIntervalMs: 50 });
  for (const o of objs)
    void queue.enqueue(`${opts.base}${o.name}`, join(opts.out, o.name), {
      hash: `sha256:${o.sha256}`,
      size: o.data.byteLength,
    });
  queue.close();
  let n = 0;
  for await (const r of queue) {
    expect(r.path).toBe(join(opts.out, objs[n]!.name));
    n++;
  }
  expect(n).toBe(objs.length);
  for (const o of objs)
    expect(Buffer.from(await readFile(join(opts.out, o.name))).equals(Buffer.from(o.data))).toBe(
      true,
    );
  const files = await readdir(opts.out, { recursive: true });
  expect(files.filter((f) => f.endsWith('.part'))).toEqual([]);
  const retries = events.filter((e) => e.kind === 'retry');
  const throttles = events.filter((e) => e.kind === 'throttle');
  const progress = events.filter((e) => e.name === 'download.progress');
  expect(retries.length).toBeGreaterThan(0);
  expect(throttles.length).toBeGreaterThan(0);
  expect(progress.at(-1)?.counters).toMatchObject({ done: objs.length, failed: 0, inFlight: 0 });
  expect(progress.at(-1)?.counters?.retries).toBe(retries.length);
  expect(progress.at(-1)?.counters?.throttles).toBe(throttles.length);
  return { retries, throttles };
}

describe('20% faulted requests', { timeout: 90_000 }, () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'streams-faults-'));
  });
  afterAll(() => rm(tmp, { recursive: true, force: true }));

  it('http: 2,000 objects all land verified through resets, truncation, stalls, drip and 5xx', async () => {
    const root = join(tmp, 'http-src');
    for (const o of objects(2000)) {
      await mkdir(join(root, 'obj'), { recursive: true });
      await writeFile(join(root, o.name), o.data);
    }
    await using server = await startHttpServer({ root });
    await using proxy = await startFaultProxy({ target: server.url, rate: 0.2, seed: 3 });
    const { retries } = await faultedRun({
      driver: httpDriver(),
      base: `${proxy.url}/`,
      count: 2000,
      proxyUrl: proxy.url,
      out: join(tmp, 'http-out'),
    });
    // Every fault kind was drawn, and every fault that breaks a transfer caused a retry.
    for (const kind of FAULT_KINDS) expect(proxy.faults[kind]).toBeGreaterThan(0);
    const breaking = FAULT_KINDS.filter((k) => k !== 'drip').reduce(
      (a, k) => a + proxy.faults[k],
      0,
    );
    // At least one retry per breaking fault (a loaded machine may add a spurious stall or two).
    expect(retries.length).toBeGreaterThanOrEqual(breaking);
    const codes = new Set(retries.map((e) => e.attrs?.code));
    for (const code of ['STREAMS_NETWORK', 'STREAMS_STALLED']) expect(codes).toContain(code);
  });

  it('s3 (s3rver): 300 objects through the same faults, SlowDown included', async () => {
    await using s3 = await startS3Server({ buckets: ['faults'] });
    const uploader = s3Driver({ endpoint: s3.endpoint, credentials: s3.credentials });
    const fixtures = objects(300);
    // Uploads run 16 at a time: s3rver is slow per request.
    for (let i = 0; i < fixtures.length; i += 16)
      await Promise.all(
        fixtures.slice(i, i + 16).map((o) => uploader.put(`s3://faults/${o.name}`, o.data)),
      );
    // The proxy also checks every signature, retries included (s3rver checks none).
    await using proxy = await startFaultProxy({
      target: s3.endpoint,
      rate: 0.2,
      seed: 4,
      verifySigV4: { [s3.credentials.accessKeyId]: s3.credentials.secretAccessKey },
    });
    const driver = s3Driver({ endpoint: proxy.url, credentials: s3.credentials });
    const { throttles } = await faultedRun({
      driver,
      base: 's3://faults/',
      count: 300,
      proxyUrl: proxy.url,
      out: join(tmp, 's3-out'),
    });
    expect(proxy.faults.slowdown).toBeGreaterThan(0);
    expect(throttles.length).toBe(
      proxy.faults.slowdown + proxy.faults.http503 + proxy.faults.http429,
    );
    expect(proxy.log.filter((r) => r.signature !== 'valid')).toEqual([]);
    await uploader.dispose?.();
    await driver.dispose?.();
  });

  it('gcs (emulator): 300 objects through the same faults', async () => {
    await using emu = await startGcsEmulator({ buckets: ['faults'] });
    for (const o of objects(300)) emu.putObject('faults', o.name, o.data);
    await using proxy = await startFaultProxy({ target: emu.url, rate: 0.2, seed: 5 });
    const driver = gcsDriver({ apiEndpoint: proxy.url, projectId: 'test' });
    await faultedRun({
      driver,
      base: 'gs://faults/',
      count: 300,
      proxyUrl: proxy.url,
      out: join(tmp, 'gcs-out'),
    });
  });

  it('a failed list page fails the listing (no partial lists)', async () => {
    await using s3 = await startS3Server({ buckets: ['pages'] });
    const uploader = s3Driver({ endpoint: s3.endpoint, credentials: s3.credentials });
    for (let i = 0; i < 7; i++) await uploader.put(`s3://pages/k${i}`, new Uint8Array([i]));
    // The second ListObjectsV2 page gets a 500.
    let lists = 0;
    await using proxy = await startFaultProxy({
      target: s3.endpoint,
      plan: (req) => (req.url?.includes('list-type=2') && ++lists === 2 ? 'http500' : undefined),
    });
    const paged = s3Driver({ endpoint: proxy.url, credentials: s3.credentials, listPageSize: 3 });
    await expect(paged.list('s3://pages/')).rejects.toMatchObject({
      code: 'STREAMS_NETWORK',
      status: 500,
    });
    // Through the engine the failed page is retried on its own (same continuation token) and
    // the listing comes back complete.
    lists = 0;
    proxy.log.length = 0;
    const engine = createFetchEngine({ seed: 1, backoffBaseMs: 1, driverFor: () => paged });
    expect((await engine.list('s3://pages/')).map((e) => e.key)).toEqual([
      'k0',
      'k1',
      'k2',
      'k3',
      'k4',
      'k5',
      'k6',
    ]);
    const tokens = proxy.log.map((r) =>
      new URL(r.path, 'http://x').searchParams.get('continuation-token'),
    );
    expect(tokens).toHaveLength(4);
    expect(tokens[0]).toBeNull();
    expect(tokens[1]).not.toBeNull();
    expect(tokens[2]).toBe(tokens[1]); // the faulted page again, not the listing from the start
    expect(proxy.log.map((r) => r.fault)).toEqual([undefined, 'http500', undefined, undefined]);
    await uploader.dispose?.();
    await paged.dispose?.();
  });

  it('listEach streams a bucket page by page, fetching each page only when the loop needs it', async () => {
    await using s3 = await startS3Server({ buckets: ['many'] });
    await using emu = await startGcsEmulator({ buckets: ['many'] });
    const uploader = s3Driver({ endpoint: s3.endpoint, credentials: s3.credentials });
    const names = Array.from({ length: 20 }, (_, i) => `p/${String(i).padStart(2, '0')}.bin`);
    for (const n of names) {
      await uploader.put(`s3://many/${n}`, new Uint8Array([1]));
      emu.putObject('many', n, new Uint8Array([1]));
    }
    await uploader.dispose?.();
    await using s3Proxy = await startFaultProxy({ target: s3.endpoint });
    await using gcsProxy = await startFaultProxy({ target: emu.url });
    const cases = [
      {
        base: 's3://many/p/',
        proxy: s3Proxy,
        driver: s3Driver({ endpoint: s3Proxy.url, credentials: s3.credentials, listPageSize: 3 }),
        isList: (path: string) => path.includes('list-type=2'),
      },
      {
        base: 'gs://many/p/',
        proxy: gcsProxy,
        driver: gcsDriver({ apiEndpoint: gcsProxy.url, projectId: 'test', listPageSize: 3 }),
        isList: (path: string) => /\/b\/many\/o\?/.test(path),
      },
    ];
    for (const c of cases) {
      const engine = createFetchEngine({ seed: 1, driverFor: () => c.driver });
      const pagesAsked = () => c.proxy.log.filter((r) => c.isList(r.path)).length;
      const seen: string[] = [];
      for await (const e of engine.listEach(c.base)) {
        seen.push(e.key);
        // Entries 0-2 come from page 1, 3-5 from page 2...: no page is asked for early.
        expect(pagesAsked(), `${c.base} entry ${seen.length}`).toBe(Math.ceil(seen.length / 3));
        if (seen.length === 7) break;
      }
      expect(seen).toEqual(names.slice(0, 7));
      expect(pagesAsked()).toBe(3);
      // Run to the end, it yields every object once, in key order.
      const all: string[] = [];
      for await (const e of engine.listEach(c.base)) all.push(e.key);
      expect(all).toEqual(names);
      expect(pagesAsked()).toBe(3 + 7);
      await c.driver.dispose?.();
    }
  });
});
