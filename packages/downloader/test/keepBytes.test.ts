import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { openCache } from '@streams/cache';
import { startFaultProxy, startHttpServer } from '@streams/testkit';
import { expect, it } from 'vitest';
import { downloadToCache } from '../src/downloadToCache.js';
import { createFetchEngine } from '../src/fetchEngine.js';
import { startDripping } from './dripping.js';
import { testBytes } from './driverSuite.js';
import { spawnTs } from './spawnTs.js';

const same = (a: Uint8Array | undefined, b: Uint8Array) =>
  a !== undefined && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b));

it('downloadToCache hands a miss the bytes it wrote (equal to the entry file); hits, large and decompressed objects come without', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'streams-keep-'));
  try {
    const data = testBytes(64_000, 11); // [64,000 bytes]
    await writeFile(join(dir, 'obj.bin'), data);
    await writeFile(join(dir, 'obj.bin.gz'), gzipSync(data));
    // The body drips in 16 pieces: the kept bytes are put together from several chunks.
    await using dripping = await startDripping(dir, 2);
    const { proxy } = dripping;
    await using cache = await openCache({ dir: join(dir, 'cache'), limit: '10mb' });
    const engine = createFetchEngine({ seed: 1 });
    const url = `${proxy.url}/obj.bin`;

    const miss = await downloadToCache(cache, 'obj', url, { engine, keepBytes: 1 << 20 });
    expect(miss.hit).toBe(false);
    expect(same(miss.bytes, data)).toBe(true);
    expect(same(new Uint8Array(await readFile(miss.path)), data)).toBe(true);
    await miss.release();

    // A hit transferred nothing: the caller reads the file.
    const hit = await downloadToCache(cache, 'obj', url, { engine, keepBytes: 1 << 20 });
    expect(hit.hit).toBe(true);
    expect(hit.bytes).toBeUndefined();
    await hit.release();

    // Larger than keepBytes, or not asked for: nothing kept (the entry is there all the same).
    for (const [key, keepBytes] of [
      ['large', data.byteLength - 1],
      ['unasked', undefined],
    ] as const) {
      const h = await downloadToCache(cache, key, url, { engine, keepBytes });
      expect(h.hit).toBe(false);
      expect(h.bytes).toBeUndefined();
      expect(same(new Uint8Array(await readFile(h.path)), data)).toBe(true);
      await h.release();
    }
    // Decompressed on landing: the bytes received are not the entry's.
    const gz = await downloadToCache(cache, 'gz', `${proxy.url}/obj.bin.gz`, {
      engine,
      decompress: true,
      keepBytes: 1 << 20,
    });
    expect(gz.bytes).toBeUndefined();
    expect(same(new Uint8Array(await readFile(gz.path)), data)).toBe(true);
    await gz.release();
    expect((await cache.audit()).problems).toEqual([]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

it('a download resumed after a reset mid-body keeps no bytes (it holds only the rest); one that starts over keeps them all', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'streams-keep-'));
  try {
    const data = testBytes(100_000, 12);
    await writeFile(join(dir, 'obj.bin'), data);
    await using server = await startHttpServer({ root: dir });
    // The first request of each proxy is cut after half its body.
    const cutFirst = () =>
      startFaultProxy({ target: server.url, plan: (_req, n) => (n === 0 ? 'reset' : undefined) });
    {
      await using proxy = await cutFirst();
      const engine = createFetchEngine({ seed: 1, backoffBaseMs: 1 });
      const r = await engine.download(`${proxy.url}/obj.bin`, join(dir, 'resumed.bin'), {
        keepBytes: 1 << 20,
      });
      expect(r.attempts).toBe(2);
      expect(proxy.log[1]?.headers.range).toMatch(/^bytes=[1-9]/);
      expect(r.body).toBeUndefined();
      expect(same(new Uint8Array(await readFile(join(dir, 'resumed.bin'))), data)).toBe(true);
    }
    {
      await using proxy = await cutFirst();
      const engine = createFetchEngine({ seed: 1, backoffBaseMs: 1, resume: false });
      const r = await engine.download(`${proxy.url}/obj.bin`, join(dir, 'restarted.bin'), {
        keepBytes: 1 << 20,
      });
      expect(r.attempts).toBe(2);
      expect(same(r.body, data)).toBe(true);
      expect(same(new Uint8Array(await readFile(join(dir, 'restarted.bin'))), data)).toBe(true);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

it(
  'kill -9 during a fill that keeps its bytes: the cache is consistent and the next process fills it whole',
  { timeout: 60_000 },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'streams-keep-'));
    try {
      const data = testBytes(64_000, 13);
      await writeFile(join(dir, 'obj.bin'), data);
      // 16 pieces, 500 ms apart: the child is mid-body for 8 s.
      await using dripping = await startDripping(dir, 500);
      const { server, proxy } = dripping;
      const cacheDir = join(dir, 'cache');
      const { child, exited, stderr } = spawnTs('cacheFillChild.ts', [
        cacheDir,
        'obj',
        `${proxy.url}/obj.bin`,
        String(1 << 20),
      ]);
      child.once('exit', () => undefined);
      // Kill once the first bytes are in the fill's temp file.
      const tmp = join(cacheDir, 'tmp');
      let started = false;
      for (let i = 0; i < 400 && !started; i++) {
        const names = await readdir(tmp).catch(() => [] as string[]);
        for (const n of names)
          if (((await readFile(join(tmp, n)).catch(() => undefined))?.length ?? 0) > 0)
            started = true;
        if (!started) await new Promise((r) => setTimeout(r, 25));
      }
      expect(started, stderr()).toBe(true);
      child.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');

      await using cache = await openCache({ dir: cacheDir, limit: '10mb' });
      const before = await cache.audit();
      expect(before.problems).toEqual([]);
      expect(before.tmpBytes).toBe(0);
      expect(await cache.has('obj')).toBe(false);
      await using h = await downloadToCache(cache, 'obj', `${server.url}obj.bin`, {
        engine: createFetchEngine({ seed: 1 }),
        keepBytes: 1 << 20,
      });
      expect(h.hit).toBe(false);
      expect(same(h.bytes, data)).toBe(true);
      expect(same(new Uint8Array(await readFile(h.path)), data)).toBe(true);
      expect((await cache.audit()).problems).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);
