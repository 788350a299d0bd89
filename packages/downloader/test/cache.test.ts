import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { openCache } from '@streams/cache';
import { startFaultProxy, startHttpServer } from '@streams/testkit';
import { expect, it } from 'vitest';
import { downloadToCache } from '../src/downloadToCache.js';
import { createFetchEngine } from '../src/fetchEngine.js';
import { testBytes } from './driverSuite.js';
import { spawnTs } from './spawnTs.js';

/** `name` (`bytes`) behind a proxy that drips every body in 16 pieces, `delayMs` apart. */
async function dripping(dir: string, name: string, bytes: Uint8Array, delayMs: number) {
  await writeFile(join(dir, name), bytes);
  const server = await startHttpServer({ root: dir });
  const proxy = await startFaultProxy({
    target: server.url,
    rate: 1,
    kinds: ['drip'],
    dripDelayMs: delayMs,
  });
  return {
    server,
    url: `${proxy.url}/${name}`,
    async [Symbol.asyncDispose]() {
      await proxy.close();
      await server.close();
    },
  };
}

it('downloadToCache fills a cache entry once, verified, and serves hits without a request', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'streams-dl-cache-'));
  try {
    const data = testBytes(200_000, 4); // [200,000 bytes]
    await writeFile(join(dir, 'obj.bin'), data);
    await writeFile(join(dir, 'obj.bin.gz'), gzipSync(data));
    await using server = await startHttpServer({ root: dir });
    const cache = await openCache({ dir: join(dir, 'cache'), limit: '10mb' });
    const engine = createFetchEngine({ seed: 1 });
    const sha = createHash('sha256').update(data).digest('hex');
    const url = `${server.url}obj.bin`;

    const first = await downloadToCache(cache, 'obj', url, {
      engine,
      hash: `sha256:${sha}`,
      size: data.byteLength,
    });
    expect(first.hit).toBe(false);
    expect(first.size).toBe(data.byteLength);
    expect(first.hash).toBe(`sha256:${sha}`);
    expect(Buffer.from(await readFile(first.path)).equals(Buffer.from(data))).toBe(true);
    await first.release();
    const requests = server.requests.length;
    const again = await downloadToCache(cache, 'obj', url, { engine, hash: `sha256:${sha}` });
    expect(again.hit).toBe(true);
    expect(server.requests.length).toBe(requests);
    await again.release();

    const unzipped = await downloadToCache(cache, 'obj-gz', `${server.url}obj.bin.gz`, {
      engine,
      decompress: true,
    });
    expect(Buffer.from(await readFile(unzipped.path)).equals(Buffer.from(data))).toBe(true);
    await unzipped.release();

    // A bad digest never becomes a cache entry.
    await expect(
      downloadToCache(cache, 'bad', url, {
        engine: createFetchEngine({ seed: 1, maxAttempts: 2, backoffBaseMs: 1 }),
        hash: `sha256:${'1'.repeat(64)}`,
      }),
    ).rejects.toMatchObject({ code: 'STREAMS_HASH_MISMATCH' });
    expect(await cache.has('bad')).toBe(false);
    await cache.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

it('a fill downloads straight into its tmpPath (no .part beside it) and the engine says it fsynced', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'streams-dl-cache-'));
  try {
    const data = testBytes(64_000, 5);
    // The body drips in 16 pieces, 50 ms apart: the fill is mid-body for a while.
    await using slow = await dripping(dir, 'slow.bin', data, 50);
    const server = slow.server;
    await using cache = await openCache({ dir: join(dir, 'cache'), limit: '10mb' });
    const tmp = join(dir, 'cache', 'tmp');
    let done = false;
    const fill = downloadToCache(cache, 'slow', slow.url, {
      engine: createFetchEngine({ seed: 1 }),
    }).finally(() => {
      done = true;
    });
    const seen = new Set<string>();
    while (!done) {
      for (const n of await readdir(tmp)) seen.add(n);
      await new Promise((r) => setTimeout(r, 5));
    }
    const h = await fill;
    expect(Buffer.from(await readFile(h.path)).equals(Buffer.from(data))).toBe(true);
    await h.release();
    // One temp file, the claim's own: the engine wrote nothing else next to it.
    expect(seen.size).toBe(1);
    expect([...seen][0]).not.toMatch(/\.part$/);
    expect(await readdir(tmp)).toEqual([]);

    const engine = createFetchEngine({ seed: 1 });
    expect((await engine.download(`${server.url}slow.bin`, join(dir, 'a.bin'))).synced).toBe(true);
    const unsynced = createFetchEngine({ seed: 1, fsync: false });
    expect((await unsynced.download(`${server.url}slow.bin`, join(dir, 'b.bin'))).synced).toBe(
      false,
    );
    // A download whose tempPath is its dest lands in place: nothing else in the directory.
    const inPlace = join(dir, 'in-place', 'c.bin');
    await engine.download(`${server.url}slow.bin`, inPlace, { tempPath: inPlace });
    expect(await readdir(join(dir, 'in-place'))).toEqual(['c.bin']);
    expect(Buffer.from(await readFile(inPlace)).equals(Buffer.from(data))).toBe(true);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

it(
  'kill -9 between a downloadToCache fill and its use: the next process reads the entry whole',
  { timeout: 60_000 },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'streams-dl-cache-'));
    try {
      const data = testBytes(100_000, 6);
      await writeFile(join(dir, 'obj.bin'), data);
      await using server = await startHttpServer({ root: dir });
      const cacheDir = join(dir, 'cache');
      const { child, exited, stderr } = spawnTs('cacheFillChild.ts', [
        cacheDir,
        'obj',
        `${server.url}obj.bin`,
      ]);
      let stdout = '';
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (d: Buffer) => {
          stdout += d.toString();
          if (stdout.includes('\n')) resolve();
        });
        child.once('exit', () => reject(new Error(`the child exited: ${stderr()}`)));
      });
      expect(stdout).toBe(`FILLED ${data.byteLength}\n`);
      child.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');

      await using cache = await openCache({ dir: cacheDir, limit: '10mb' });
      const requests = server.requests.length;
      await using h = await downloadToCache(cache, 'obj', `${server.url}obj.bin`, {
        engine: createFetchEngine({ seed: 1 }),
      });
      expect(h.hit).toBe(true);
      expect(server.requests.length).toBe(requests);
      expect(Buffer.from(await readFile(h.path)).equals(Buffer.from(data))).toBe(true);
      const audit = await cache.audit();
      expect(audit.problems).toEqual([]);
      expect(audit.tmpBytes).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);

it('aborting downloadToCache mid-body stops the download: no entry, no temp file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'streams-dl-cache-'));
  try {
    // 16 pieces, 1 s apart: the body takes 16 s unless the abort ends it.
    await using slow = await dripping(dir, 'slow.bin', testBytes(64_000, 7), 1000);
    await using cache = await openCache({ dir: join(dir, 'cache'), limit: '10mb' });
    const ac = new AbortController();
    const tmp = join(dir, 'cache', 'tmp');
    const fill = downloadToCache(cache, 'slow', slow.url, {
      engine: createFetchEngine({ seed: 1 }),
      signal: ac.signal,
    });
    fill.catch(() => {});
    // Abort once the first bytes are on disk.
    for (let i = 0; i < 400; i++) {
      const names = await readdir(tmp);
      if (names.length > 0 && (await stat(join(tmp, names[0]!)).catch(() => undefined))?.size)
        break;
      await new Promise((r) => setTimeout(r, 25));
    }
    ac.abort();
    await expect(fill).rejects.toMatchObject({ name: 'AbortError' });
    // The fill itself ends soon after (its temp file goes), long before the 16 s body would end.
    for (let i = 0; i < 320 && (await readdir(tmp)).length > 0; i++)
      await new Promise((r) => setTimeout(r, 25));
    expect(await readdir(tmp)).toEqual([]);
    expect(await cache.has('slow')).toBe(false);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
