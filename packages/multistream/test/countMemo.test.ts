// A StreamingDataset over local WebDataset tars with a cacheDir counts each tar once: reopened, it
// takes the counts remembered in the node cache and reads no tar (proved by tars whose bytes were
// replaced with garbage of the same size and modification time, which a count would refuse).
import { readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WdsWriter } from '@streams/index';
import { expect, it } from 'vitest';
import { StreamingDataset } from '../src/index.js';
import { tempDir } from './fixtures.js';

it('reopening local tars with a cacheDir takes the remembered counts and reads no tar', async () => {
  const tmp = await tempDir();
  const dir = join(tmp.dir, 'wds');
  const w = new WdsWriter({ out: dir, maxShardSamples: 7 });
  for (let i = 0; i < 30; i++) await w.write({ __key__: `s${i}`, cls: i });
  await w.finish();
  // Counted from the tars: without the wids shard index the writer puts next to them.
  await rm(join(dir, 'shardindex.json'));
  const tars = (await readdir(dir)).filter((n) => n.endsWith('.tar')).map((n) => join(dir, n));
  // Whole seconds: set again exactly below (a Date in between would round the nanoseconds).
  const when = 1_700_000_000;
  for (const path of tars) await utimes(path, when, when);
  const open = (cacheDir?: string) =>
    StreamingDataset.open({
      local: dir,
      world: { rank: 0, worldSize: 1 },
      shuffle: false,
      ...(cacheDir ? { cacheDir } : {}),
    });
  const cacheDir = join(tmp.dir, 'cache');
  {
    await using ds = await open(cacheDir);
    expect(ds.epochLength).toBe(30);
    const got: number[] = [];
    for await (const s of ds) got.push((s as { cls: number }).cls);
    expect(got).toEqual(Array.from({ length: 30 }, (_, i) => i));
  }
  // Garbage in place of every tar, with the same size and modification time.
  for (const path of tars) {
    await writeFile(path, new Uint8Array((await stat(path)).size).fill(0x41));
    await utimes(path, when, when);
  }
  {
    await using ds = await open(cacheDir);
    expect(ds.epochLength).toBe(30); // from the memo: no tar was read
  }
  // Without the cache the count reads the tars, and refuses the garbage.
  const e = await open().catch((err: unknown) => err);
  expect((e as { code?: string }).code).toBe('STREAMS_SHARD_CORRUPT');
  await tmp.cleanup();
});
