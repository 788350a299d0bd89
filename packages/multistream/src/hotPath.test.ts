import { join } from 'node:path';
import { sleep, world as worldLayout } from '@streams/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { payloadOf, tempDir, writeMds } from '../test/fixtures.js';
import type { SampleInfo, StreamingDatasetOptions } from './datasetOptions.js';
import { StreamingDataset } from './streamingDataset.js';

type Sample = { uid: number; payload: Uint8Array };

const world = worldLayout({ env: {}, rank: 0, worldSize: 1 });

// The untransformed path decodes chunks synchronously from resident shards and counts shard
// references per shard, not per sample; the transformed path awaits each sample. Both must read
// the same samples in the same order, release every shard reference, and resume identically.
describe('StreamingDataset: synchronous hot path vs the per-sample path', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let a: string;
  let b: string;
  beforeAll(async () => {
    tmp = await tempDir();
    a = join(tmp.dir, 'a');
    b = join(tmp.dir, 'b');
    await writeMds(a, { n: 700, tag: 1, bytes: 24, sizeLimit: 1500 });
    await writeMds(b, { n: 300, tag: 2, bytes: 40, sizeLimit: 900, compression: 'zstd' });
  });
  afterAll(() => tmp.cleanup());

  const open = <T = Sample>(extra: Partial<StreamingDatasetOptions<T>> = {}) =>
    StreamingDataset.open<T>({
      streams: [
        { local: a, proportion: 0.5 },
        { local: b, proportion: 0.5 },
      ],
      epochSize: 900,
      world,
      shuffleBlockSize: 128,
      seed: 5,
      ...extra,
    } as StreamingDatasetOptions<T>);

  const read = async (ds: StreamingDataset<Sample>, limit = Number.POSITIVE_INFINITY) => {
    const out: Array<{ uid: number; info: SampleInfo }> = [];
    for await (const { sample, info } of ds.entries()) {
      expect([...sample.payload]).toEqual([...payloadOf(sample.uid, sample.uid >= 2e6 ? 40 : 24)]);
      out.push({ uid: sample.uid, info });
      if (out.length >= limit) break;
    }
    return out;
  };

  it('reads the same order and coordinates as the transformed path, under tight windows', async () => {
    for (const predownload of [1, 7, 4096]) {
      await using hot = await open({ predownload, shardMemory: 0 });
      await using slow = await open<Sample>({
        predownload,
        shardMemory: 0,
        transform: (s) => s as unknown as Sample,
      });
      const x = await read(hot);
      const y = await read(slow);
      expect(x.length).toBe(900);
      expect(x).toEqual(y);
      // Every window reference was dropped: nothing is held for a finished epoch.
      expect(hot.metrics().activeShards).toBe(0);
      expect(hot.metrics().queueDepth).toBe(0);
    }
  });

  it('an early exit releases the window; resume continues exactly where it stopped', async () => {
    await using whole = await open();
    const all = (await read(whole)).map((e) => e.uid);
    for (const cut of [1, 255, 256, 257, 613]) {
      await using first = await open({ predownload: 50, shardMemory: 0 });
      const head = (await read(first, cut)).map((e) => e.uid);
      // Loads already started finish in the background, then go (shardMemory 0): wait for them.
      for (let k = 0; k < 400 && first.metrics().activeShards > 0; k++) await sleep(5);
      expect(first.metrics().activeShards).toBe(0);
      expect(first.metrics().queueDepth).toBe(0);
      const state = first.stateDict();
      await using second = await open({ predownload: 50 });
      second.loadStateDict(state);
      const tail = (await read(second)).map((e) => e.uid);
      expect([...head, ...tail]).toEqual(all);
    }
  });

  it('batches() cut from the synchronous chunks match per-sample iteration', async () => {
    await using one = await open();
    const seq: number[] = [];
    for await (const s of one) seq.push(s.uid);
    await using batched = await open({ batchSize: 64, dropLast: true });
    const flat: number[] = [];
    for await (const batch of batched.batches()) {
      expect(batch.length).toBe(64);
      flat.push(...batch.map((s) => s.uid));
    }
    expect(flat).toEqual(seq.slice(0, flat.length));
    expect(flat.length).toBe(Math.floor(900 / 64) * 64);
  });
});
