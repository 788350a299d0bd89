import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { openCache } from '@streams/cache';
import { startHttpServer } from '@streams/testkit';
import { expect, it } from 'vitest';
import { downloadToCache } from '../src/downloadToCache.js';
import { createFetchEngine } from '../src/fetchEngine.js';
import { testBytes } from './driverSuite.js';

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
