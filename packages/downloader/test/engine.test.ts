import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { isAbortError, type StreamsEvent } from '@streams/core';
import { startFaultProxy, startHttpServer, type TestHttpServer } from '@streams/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeBody } from '../src/driver.js';
import { httpDriver } from '../src/drivers/http.js';
import {
  createFetchEngine,
  defaultEngine,
  type FetchEngineOptions,
  setDefaultEngine,
} from '../src/fetchEngine.js';
import { getDriver, registerDriver, unregisterDriver } from '../src/registry.js';
import { testBytes } from './driverSuite.js';

const FIXTURES = new URL('./fixtures/', import.meta.url);
const SAMPLE = Buffer.from(
  Array.from(
    { length: 20000 },
    (_, i) => `line ${String(i).padStart(5, '0')} of the streams downloader fixture\n`,
  ).join(''),
);

let root: string;
let out: string;
let server: TestHttpServer;
const data = testBytes(50_000, 21); // [50,000 bytes]
const sha256 = createHash('sha256').update(data).digest('hex');

/** Fast retries so tests never wait on backoff. */
const FAST: FetchEngineOptions = {
  seed: 7,
  backoffBaseMs: 1,
  backoffMaxMs: 5,
  stallTimeoutMs: 2000,
};

function collect(engine: ReturnType<typeof createFetchEngine>): StreamsEvent[] {
  const events: StreamsEvent[] = [];
  engine.events.on((e) => events.push(e));
  return events;
}

async function partials(dir: string): Promise<string[]> {
  const names = await readdir(dir, { recursive: true });
  return names.filter((n) => n.endsWith('.part'));
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'streams-engine-src-'));
  out = await mkdtemp(join(tmpdir(), 'streams-engine-out-'));
  await writeFile(join(root, 'data.bin'), data);
  await writeFile(join(root, 'secret.bin'), data);
  await writeFile(join(root, 'sample.txt.gz'), gzipSync(SAMPLE));
  await writeFile(join(root, 'sample.txt.br'), brotliCompressSync(SAMPLE));
  await writeFile(
    join(root, 'sample.txt.zst'),
    await readFile(new URL('sample.txt.zst', FIXTURES)),
  );
  await writeFile(
    join(root, 'sample.txt.bz2'),
    await readFile(new URL('sample.txt.bz2', FIXTURES)),
  );
  // Raw snappy, the format python-snappy's compress() writes for MDS shards.
  const { compress } = await import('snappyjs');
  await writeFile(join(root, 'sample.txt.snappy'), compress(new Uint8Array(SAMPLE)));
  server = await startHttpServer({ root, forbidden: ['/secret.bin'] });
});
afterAll(async () => {
  await server.close();
  await rm(root, { recursive: true, force: true });
  await rm(out, { recursive: true, force: true });
});

describe('bad input fails fast with a stable code', () => {
  it('unknown scheme, malformed URL and missing host', async () => {
    const engine = createFetchEngine(FAST);
    await expect(engine.download('foo://bucket/key', join(out, 'x'))).rejects.toMatchObject({
      code: 'STREAMS_UNKNOWN_SCHEME',
      message: expect.stringMatching(/no storage driver for scheme "foo:".*registerDriver/),
    });
    await expect(engine.download('http://exa mple.com/x', join(out, 'x'))).rejects.toMatchObject({
      code: 'STREAMS_INVALID_URL',
    });
    await expect(engine.download('s3:///key-without-bucket', join(out, 'x'))).rejects.toMatchObject(
      {
        code: 'STREAMS_INVALID_URL',
        message: expect.stringContaining('no bucket'),
      },
    );
    await expect(engine.stat('s3://bucket-only')).rejects.toMatchObject({
      code: 'STREAMS_INVALID_URL',
    });
    expect(() => getDriver('')).toThrow(/empty/);
  });

  it('404 and 403 are not retried: one request each', async () => {
    const engine = createFetchEngine(FAST);
    const events = collect(engine);
    const before = server.requests.length;
    await expect(
      engine.download(`${server.url}missing.bin`, join(out, 'm.bin')),
    ).rejects.toMatchObject({
      code: 'STREAMS_NOT_FOUND',
      message: expect.stringContaining('HTTP 404'),
    });
    await expect(
      engine.download(`${server.url}secret.bin`, join(out, 's.bin')),
    ).rejects.toMatchObject({
      code: 'STREAMS_FORBIDDEN',
      message: expect.stringContaining('HTTP 403'),
    });
    expect(server.requests.length - before).toBe(2);
    expect(events.filter((e) => e.kind === 'retry')).toEqual([]);
    expect(events.filter((e) => e.name === 'download.failed').map((e) => e.attrs?.code)).toEqual([
      'STREAMS_NOT_FOUND',
      'STREAMS_FORBIDDEN',
    ]);
    expect(await partials(out)).toEqual([]);
  });
});

describe('integrity', () => {
  it('a hash mismatch is retried, then fails naming the URL and both digests', async () => {
    const engine = createFetchEngine({ ...FAST, maxAttempts: 3 });
    const before = server.requests.length;
    const wrong = '0'.repeat(64);
    const err = (await engine
      .download(`${server.url}data.bin`, join(out, 'hash', 'data.bin'), { hash: `sha256:${wrong}` })
      .catch((e: unknown) => e)) as Error & { code: string };
    expect(err.code).toBe('STREAMS_HASH_MISMATCH');
    expect(err.message).toContain(`${server.url}data.bin`);
    expect(err.message).toContain(wrong);
    expect(err.message).toContain(sha256);
    expect(err.message).toContain('after 3 attempts');
    expect(server.requests.length - before).toBe(3);
    await expect(readdir(join(out, 'hash'))).resolves.toEqual([]);
  });

  it('skipExisting keeps a matching file and replaces a wrong one', async () => {
    const engine = createFetchEngine(FAST);
    const dest = join(out, 'skip', 'data.bin');
    const url = `${server.url}data.bin`;
    await engine.download(url, dest);
    const before = server.requests.length;
    const kept = await engine.download(url, dest, {
      skipExisting: true,
      size: data.byteLength,
      hash: `sha256:${sha256}`,
    });
    expect(kept).toMatchObject({ attempts: 0, bytes: 0, size: data.byteLength, digest: sha256 });
    expect(server.requests.length).toBe(before);
    await writeFile(dest, 'not the object');
    const fixed = await engine.download(url, dest, {
      skipExisting: true,
      hash: `sha256:${sha256}`,
    });
    expect(fixed.attempts).toBe(1);
    expect((await readFile(dest)).equals(Buffer.from(data))).toBe(true);
  });

  it('checks every supported digest and the expected size', async () => {
    const engine = createFetchEngine(FAST);
    const { createXXHash3, createXXHash64, md5, sha1 } = await import('hash-wasm');
    const x64 = await createXXHash64();
    x64.update(data);
    const x3 = await createXXHash3();
    x3.update(data);
    for (const hash of [
      `sha256:${sha256}`,
      `sha1:${await sha1(data)}`,
      `md5:${await md5(data)}`,
      { algorithm: 'xxh64' as const, digest: x64.digest('hex') },
      { algorithm: 'xxh3' as const, digest: x3.digest('hex').toUpperCase() },
    ]) {
      const r = await engine.download(`${server.url}data.bin`, join(out, 'digests', 'd.bin'), {
        hash,
        size: data.byteLength,
      });
      expect(r.digest).toBe(
        typeof hash === 'string' ? hash.split(':')[1] : hash.digest.toLowerCase(),
      );
    }
    await expect(
      createFetchEngine({ ...FAST, maxAttempts: 2 }).download(
        `${server.url}data.bin`,
        join(out, 'digests', 'e.bin'),
        { size: 10 },
      ),
    ).rejects.toMatchObject({
      code: 'STREAMS_SIZE_MISMATCH',
      message: expect.stringContaining('expected 10 bytes, got 50000'),
    });
    await expect(
      engine.download(`${server.url}data.bin`, join(out, 'x'), { hash: 'crc64:00' }),
    ).rejects.toMatchObject({
      code: 'STREAMS_INVALID_ARGUMENT',
    });
  });
});

describe('decompression on landing', () => {
  for (const ext of ['gz', 'br', 'zst', 'bz2', 'snappy']) {
    it(`.${ext}: lands the decompressed file, keeps or drops the compressed copy`, async () => {
      const engine = createFetchEngine(FAST);
      const dir = join(out, `dec-${ext}`);
      const dropped = await engine.download(
        `${server.url}sample.txt.${ext}`,
        join(dir, 'a', `sample.txt.${ext}`),
        { decompress: true },
      );
      expect(dropped.path).toBe(join(dir, 'a', 'sample.txt'));
      expect(dropped.size).toBe(SAMPLE.byteLength);
      expect((await readFile(dropped.path)).equals(SAMPLE)).toBe(true);
      expect(await readdir(join(dir, 'a'))).toEqual(['sample.txt']);
      const kept = await engine.download(
        `${server.url}sample.txt.${ext}`,
        join(dir, 'b', `sample.txt.${ext}`),
        {
          decompress: true,
          keepCompressed: true,
        },
      );
      expect(kept.compressedPath).toBe(join(dir, 'b', `sample.txt.${ext}`));
      expect((await readdir(join(dir, 'b'))).sort()).toEqual(['sample.txt', `sample.txt.${ext}`]);
      expect((await readFile(kept.path)).equals(SAMPLE)).toBe(true);
    });
  }

  it('corrupt compressed data is STREAMS_DECODE_FAILED and leaves nothing behind', async () => {
    const engine = createFetchEngine(FAST);
    const dir = join(out, 'dec-bad');
    await expect(
      engine.download(`${server.url}data.bin`, join(dir, 'data.bin'), { decompress: 'zstd' }),
    ).rejects.toMatchObject({
      code: 'STREAMS_DECODE_FAILED',
    });
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('faults', () => {
  it('a stalled body is abandoned after stallTimeoutMs and retried', async () => {
    await using proxy = await startFaultProxy({
      target: server.url,
      plan: (_req, n) => (n === 0 ? 'stall' : undefined),
    });
    const engine = createFetchEngine({ ...FAST, stallTimeoutMs: 200 });
    const events = collect(engine);
    const r = await engine.download(`${proxy.url}/data.bin`, join(out, 'stall', 'data.bin'), {
      hash: `sha256:${sha256}`,
    });
    // A loaded machine may add a spurious stall; the first retry is the injected one.
    expect(r.attempts).toBeGreaterThanOrEqual(2);
    expect(events.find((e) => e.kind === 'retry')?.attrs?.code).toBe('STREAMS_STALLED');
    const always = createFetchEngine({ ...FAST, stallTimeoutMs: 100, maxAttempts: 2 });
    proxy.setRate(1);
    await using stalling = await startFaultProxy({ target: server.url, rate: 1, kinds: ['stall'] });
    await expect(
      always.download(`${stalling.url}/data.bin`, join(out, 'stall', 'd2.bin')),
    ).rejects.toMatchObject({
      code: 'STREAMS_STALLED',
      message: expect.stringContaining('after 2 attempts'),
    });
    expect(await partials(join(out, 'stall'))).toEqual([]);
  });

  it('a body cut mid-way resumes with a range read of the missing bytes', async () => {
    const big = testBytes(3 << 20, 8); // [3 MiB]
    await writeFile(join(root, 'big.bin'), big);
    const bigSha = createHash('sha256').update(big).digest('hex');
    for (const kind of ['truncate', 'reset', 'stall'] as const) {
      await using proxy = await startFaultProxy({
        target: server.url,
        stallMs: 5000,
        plan: (_req, n) => (n === 0 ? kind : undefined),
      });
      const engine = createFetchEngine({ ...FAST, stallTimeoutMs: 300 });
      const before = server.requests.length;
      const r = await engine.download(`${proxy.url}/big.bin`, join(out, 'resume', `${kind}.bin`), {
        hash: `sha256:${bigSha}`,
      });
      // A loaded machine may add a spurious stall; the first retry is the injected one.
      expect(r.attempts).toBeGreaterThanOrEqual(2);
      expect((await readFile(r.path)).equals(Buffer.from(big))).toBe(true);
      const [first, second] = server.requests.slice(before);
      expect(first?.headers.range).toBeUndefined();
      const start = Number(/^bytes=(\d+)-(\d+)$/.exec(String(second?.headers.range))?.[1]);
      expect(start).toBeGreaterThan(0);
      expect(start).toBeLessThan(big.byteLength);
    }
    const noResume = createFetchEngine({ ...FAST, resume: false });
    await using proxy = await startFaultProxy({
      target: server.url,
      plan: (_req, n) => (n === 0 ? 'truncate' : undefined),
    });
    const before = server.requests.length;
    await noResume.download(`${proxy.url}/big.bin`, join(out, 'resume', 'off.bin'), {
      hash: `sha256:${bigSha}`,
    });
    expect(server.requests.slice(before).map((r) => r.headers.range)).toEqual([
      undefined,
      undefined,
    ]);
  });

  it('an object that changes between attempts is fetched again from the start (ETag check)', async () => {
    const v1 = testBytes(1 << 20, 31); // [1 MiB]
    const v2 = testBytes(1 << 20, 32);
    const path = join(root, 'changing.bin');
    await writeFile(path, v1);
    await using proxy = await startFaultProxy({
      target: server.url,
      plan: (_req, n) => {
        // The object is replaced just before the resume request is forwarded.
        if (n === 1) writeFileSync(path, v2);
        return n === 0 ? 'truncate' : undefined;
      },
    });
    const engine = createFetchEngine(FAST);
    const events = collect(engine);
    const before = server.requests.length;
    const r = await engine.download(`${proxy.url}/changing.bin`, join(out, 'changing', 'c.bin'), {
      hash: `sha256:${createHash('sha256').update(v2).digest('hex')}`,
    });
    expect((await readFile(r.path)).equals(Buffer.from(v2))).toBe(true);
    const ranges = server.requests.slice(before).map((q) => q.headers.range);
    expect(ranges[0]).toBeUndefined();
    expect(ranges[1]).toMatch(/^bytes=\d+-/);
    expect(ranges[2]).toBeUndefined();
    expect(events.some((e) => String(e.attrs?.reason).includes('changed while downloading'))).toBe(
      true,
    );
  });

  it('large objects of known size come as parallel range reads; a failed part is fetched again', async () => {
    const big = testBytes((3 << 20) + 123, 9); // [3 MiB + 123]
    await writeFile(join(root, 'parts.bin'), big);
    const bigSha = createHash('sha256').update(big).digest('hex');
    // The third request (a part) is cut in the middle.
    await using proxy = await startFaultProxy({
      target: server.url,
      plan: (_req, n) => (n === 2 ? 'truncate' : undefined),
    });
    const engine = createFetchEngine({
      ...FAST,
      multipartThreshold: 1 << 20,
      partSize: 512 << 10,
      partConcurrency: 3,
    });
    const before = server.requests.length;
    const r = await engine.download(`${proxy.url}/parts.bin`, join(out, 'parts', 'parts.bin'), {
      size: big.byteLength,
      hash: `sha256:${bigSha}`,
    });
    expect(r.attempts).toBe(2);
    expect(r.digest).toBe(bigSha);
    expect((await readFile(r.path)).equals(Buffer.from(big))).toBe(true);
    const ranges = server.requests.slice(before).map((q) => String(q.headers.range));
    // 7 parts, one of them twice; every request is a range of at most 512 KiB.
    expect(ranges).toHaveLength(8);
    const starts = ranges.map((h) => Number(/^bytes=(\d+)-(\d+)$/.exec(h)?.[1]));
    expect(new Set(starts).size).toBe(7);
    expect(await partials(join(out, 'parts'))).toEqual([]);
    // A bad digest throws the parts away and starts over, then fails.
    const bad = createFetchEngine({
      ...FAST,
      maxAttempts: 2,
      multipartThreshold: 1 << 20,
      partSize: 1 << 20,
    });
    await expect(
      bad.download(`${server.url}parts.bin`, join(out, 'parts', 'bad.bin'), {
        size: big.byteLength,
        hash: `sha256:${'2'.repeat(64)}`,
      }),
    ).rejects.toMatchObject({ code: 'STREAMS_HASH_MISMATCH' });
    expect(await readdir(join(out, 'parts'))).toEqual(['parts.bin']);
  });

  it('an attempt over attemptTimeoutMs is cut and fails with STREAMS_TIMEOUT', async () => {
    await using proxy = await startFaultProxy({
      target: server.url,
      rate: 1,
      kinds: ['drip'],
      dripDelayMs: 200,
    });
    const engine = createFetchEngine({ ...FAST, attemptTimeoutMs: 150, maxAttempts: 2 });
    await expect(
      engine.download(`${proxy.url}/data.bin`, join(out, 'timeout', 'data.bin')),
    ).rejects.toMatchObject({
      code: 'STREAMS_TIMEOUT',
    });
    expect(await partials(join(out, 'timeout'))).toEqual([]);
  });

  it('503 with Retry-After halves the host limit and waits as told', async () => {
    await using proxy = await startFaultProxy({
      target: server.url,
      retryAfter: '1',
      plan: (_req, n) => (n === 0 ? 'http503' : undefined),
    });
    const engine = createFetchEngine({ ...FAST, perHost: 8 });
    const events = collect(engine);
    const url = `${proxy.url}/data.bin`;
    await engine.download(url, join(out, 'ra', 'data.bin'));
    const throttle = events.find((e) => e.kind === 'throttle');
    expect(throttle?.attrs).toMatchObject({ status: 503, retryAfterMs: 1000, limit: 4 });
    const retry = events.find((e) => e.kind === 'retry');
    expect(retry?.attrs?.delayMs).toBeGreaterThanOrEqual(1000);
    // Each success adds 1/limit: the host limit climbs back toward perHost.
    expect(engine.hostLimit(url)).toBeGreaterThan(4);
    expect(engine.hostLimit(url)).toBeLessThan(8);
  });

  it('stat, exists, read and list are retried through transient failures too', async () => {
    await using proxy = await startFaultProxy({
      target: server.url,
      retryAfter: '0',
      plan: (_req, n) =>
        n % 2 === 0
          ? (['http500', 'http503', 'reset', 'truncate'] as const)[(n / 2) % 4]
          : undefined,
    });
    const engine = createFetchEngine(FAST);
    expect((await engine.stat(`${proxy.url}/data.bin`)).size).toBe(data.byteLength);
    expect(await engine.exists(`${proxy.url}/data.bin`)).toBe(true);
    expect(
      Buffer.from(await engine.read(`${proxy.url}/data.bin`, { offset: 10, length: 100 })).equals(
        Buffer.from(data.subarray(10, 110)),
      ),
    ).toBe(true);
    expect(Buffer.from(await engine.read(`${proxy.url}/data.bin`)).equals(Buffer.from(data))).toBe(
      true,
    );
    expect(proxy.log.filter((r) => r.fault).length).toBe(4);
    expect(engine.counters.retries).toBe(4);
  });

  it('aborting a download rejects with AbortError and leaves no file', async () => {
    await using proxy = await startFaultProxy({
      target: server.url,
      rate: 1,
      kinds: ['drip'],
      dripDelayMs: 50,
    });
    const engine = createFetchEngine(FAST);
    const ac = new AbortController();
    const p = engine.download(`${proxy.url}/data.bin`, join(out, 'abort', 'data.bin'), {
      signal: ac.signal,
    });
    setTimeout(() => ac.abort(), 100);
    await expect(p).rejects.toSatisfy(isAbortError);
    expect(await readdir(join(out, 'abort'))).toEqual([]);
  });
});

describe('limits', () => {
  it('the process-wide engine can be replaced', () => {
    const mine = createFetchEngine({ concurrency: 3 });
    expect(defaultEngine()).not.toBe(mine);
    setDefaultEngine(mine);
    expect(defaultEngine()).toBe(mine);
    expect(defaultEngine().concurrency).toBe(3);
  });

  it('shares a node-wide limit among the processes of the node', () => {
    expect(createFetchEngine({ nodeConcurrency: 64, localProcesses: 8 }).concurrency).toBe(8);
    expect(createFetchEngine({ nodeConcurrency: 10, localProcesses: 4 }).concurrency).toBe(3);
    expect(createFetchEngine({ nodeConcurrency: 2, localProcesses: 8 }).concurrency).toBe(1);
    expect(
      createFetchEngine({ nodeConcurrency: 1000, localProcesses: 2, concurrency: 16 }).concurrency,
    ).toBe(16);
    expect(() => createFetchEngine({ nodeConcurrency: 0 })).toThrow(
      expect.objectContaining({ code: 'STREAMS_INVALID_ARGUMENT' }),
    );
    const old = {
      size: process.env.LOCAL_WORLD_SIZE,
      rank: process.env.LOCAL_RANK,
      w: process.env.WORLD_SIZE,
      r: process.env.RANK,
    };
    Object.assign(process.env, {
      LOCAL_WORLD_SIZE: '4',
      LOCAL_RANK: '1',
      WORLD_SIZE: '8',
      RANK: '5',
    });
    try {
      expect(createFetchEngine({ nodeConcurrency: 32 }).concurrency).toBe(8);
    } finally {
      for (const [k, v] of [
        ['LOCAL_WORLD_SIZE', old.size],
        ['LOCAL_RANK', old.rank],
        ['WORLD_SIZE', old.w],
        ['RANK', old.r],
      ] as const)
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
    }
  });

  it('keeps the global and per-host limits (registered custom scheme)', async () => {
    const active = new Map<string, number>();
    const peak = new Map<string, number>();
    let total = 0;
    let peakTotal = 0;
    registerDriver('slow', {
      name: 'slow',
      async get(url) {
        const host = new URL(url).host;
        active.set(host, (active.get(host) ?? 0) + 1);
        peak.set(host, Math.max(peak.get(host) ?? 0, active.get(host)!));
        peakTotal = Math.max(peakTotal, ++total);
        await new Promise((r) => setTimeout(r, 5));
        // Bookkeeping ends when the engine has read the body, before it frees the slot.
        async function* one() {
          try {
            yield new Uint8Array([1, 2, 3]);
          } finally {
            active.set(host, active.get(host)! - 1);
            total--;
          }
        }
        return makeBody(one(), 3, () => {}, undefined);
      },
      stat: async () => ({ size: 3 }),
      exists: async () => true,
      getRange: async () => {
        throw new Error('unused');
      },
      list: async () => [],
      put: async () => ({ size: 0 }),
    });
    const engine = createFetchEngine({ ...FAST, concurrency: 5, perHost: 2, fsync: false });
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        engine.download(`slow://host${i % 4}/obj${i}`, join(out, 'limits', `o${i}`)),
      ),
    );
    expect(results.every((r) => r.bytes === 3)).toBe(true);
    expect(Math.max(...peak.values())).toBeLessThanOrEqual(2);
    expect(peakTotal).toBeLessThanOrEqual(5);
    unregisterDriver('slow');
    expect(() => getDriver('slow://x/y')).toThrow(/no storage driver/);
  });
});

describe('prefetch queue', () => {
  it('yields results in plan order with at most depth in flight, and reports progress', async () => {
    const dir = join(out, 'prefetch');
    await mkdir(join(root, 'pf'), { recursive: true });
    for (let i = 0; i < 30; i++)
      await writeFile(join(root, 'pf', `${i}.bin`), testBytes(1000 + i, i));
    await using proxy = await startFaultProxy({
      target: server.url,
      rate: 1,
      kinds: ['drip'],
      dripDelayMs: 1,
    });
    const engine = createFetchEngine(FAST);
    const events = collect(engine);
    const queue = engine.prefetch({ depth: 4, progressIntervalMs: 10 });
    let maxInFlight = 0;
    engine.events.on(() => {
      maxInFlight = Math.max(maxInFlight, queue.stats().inFlight);
    });
    for (let i = 0; i < 30; i++)
      void queue.enqueue(`${proxy.url}/pf/${i}.bin`, join(dir, `${i}.bin`));
    queue.close();
    const order: string[] = [];
    for await (const r of queue) order.push(r.path);
    expect(order).toEqual(Array.from({ length: 30 }, (_, i) => join(dir, `${i}.bin`)));
    expect(maxInFlight).toBeLessThanOrEqual(4);
    const last = events.filter((e) => e.name === 'download.progress').at(-1);
    expect(last?.counters).toMatchObject({ done: 30, failed: 0, inFlight: 0, queued: 0 });
    expect(last?.counters?.bytes).toBe(
      Array.from({ length: 30 }, (_, i) => 1000 + i).reduce((a, b) => a + b),
    );
    expect(typeof last?.counters?.bytesPerSec).toBe('number');
    // Received bytes are counted live, chunk by chunk, so the rate shows before items finish.
    expect(last?.counters?.received).toBe(last?.counters?.bytes);
    expect(
      events
        .filter((e) => e.name === 'download.progress')
        .some((e) => (e.counters?.bytesPerSec ?? 0) > 0),
    ).toBe(true);
  });

  it('a failed item rejects at its position; cancel() aborts the rest', async () => {
    const engine = createFetchEngine(FAST);
    const queue = engine.prefetch({ depth: 2 });
    const ok = queue.enqueue(`${server.url}data.bin`, join(out, 'pq', 'a.bin'));
    const bad = queue.enqueue(`${server.url}missing.bin`, join(out, 'pq', 'b.bin'));
    queue.close();
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const r of queue) seen.push(r.path);
      })(),
    ).rejects.toMatchObject({ code: 'STREAMS_NOT_FOUND' });
    expect(seen).toEqual([join(out, 'pq', 'a.bin')]);
    await expect(ok).resolves.toMatchObject({ bytes: data.byteLength });
    await expect(bad).rejects.toMatchObject({ code: 'STREAMS_NOT_FOUND' });

    await using proxy = await startFaultProxy({ target: server.url, rate: 1, kinds: ['stall'] });
    const q2 = createFetchEngine(FAST).prefetch({ depth: 1 });
    const first = q2.enqueue(`${proxy.url}/data.bin`, join(out, 'pq', 'c.bin'));
    const second = q2.enqueue(`${proxy.url}/data.bin`, join(out, 'pq', 'd.bin'));
    q2.cancel();
    await expect(first).rejects.toSatisfy(isAbortError);
    await expect(second).rejects.toSatisfy(isAbortError);
  });
});

describe('secrets never leak', () => {
  it('bearer tokens, basic passwords and signatures stay out of errors and events', async () => {
    const token = 'tok-SUPERSECRET-123';
    const password = 'pw-HUNTER2-xyz';
    const signature = 'sig0123456789abcdefSIGNATURE';
    await using authed = await startHttpServer({ root, auth: { bearer: token } });
    await using proxy = await startFaultProxy({ target: authed.url, rate: 1, kinds: ['http500'] });
    const host = new URL(proxy.url).host;
    const driver = httpDriver({ credentials: { [host]: { bearer: token } } });
    const engine = createFetchEngine({ ...FAST, maxAttempts: 3, driverFor: () => driver });
    const events = collect(engine);
    const errors: unknown[] = [];
    const urls = [
      `${proxy.url}/data.bin?X-Amz-Signature=${signature}&X-Amz-Credential=AKIA/${signature}`,
      `http://user:${password}@${host}/data.bin`,
      `${authed.url}missing.bin?X-Amz-Signature=${signature}`,
    ];
    for (const url of urls)
      errors.push(
        await engine.download(url, join(out, 'secret', 'x.bin')).catch((e: unknown) => e),
      );
    // A wrong token must not be echoed either.
    const wrong = httpDriver({
      credentials: { [new URL(authed.url).host]: { bearer: token.replace('123', '999') } },
    });
    errors.push(await wrong.get(`${authed.url}data.bin`).catch((e: unknown) => e));
    expect(errors.every((e) => e instanceof Error)).toBe(true);
    expect((errors[3] as { code: string }).code).toBe('STREAMS_FORBIDDEN');
    expect(events.some((e) => e.kind === 'retry')).toBe(true);
    const text = [
      ...errors.map(
        (e) =>
          `${(e as Error).message}\n${(e as Error).stack}\n${JSON.stringify(e)}\n${String((e as Error).cause)}`,
      ),
      JSON.stringify(events),
    ].join('\n');
    for (const secret of [token, 'SUPERSECRET', password, signature])
      expect(text).not.toContain(secret);
    expect(text).toContain('X-Amz-Signature=***');
  });
});
