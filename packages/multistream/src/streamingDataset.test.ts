import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isStreamsError, world } from '@streams/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { payloadOf, tempDir, writeMds } from '../test/fixtures.js';
import type { StreamingDatasetOptions } from './datasetOptions.js';
import { StreamingDataset } from './streamingDataset.js';

type Sample = { uid: number; payload: Uint8Array };

const worldOf = (rank: number, worldSize: number) => world({ env: {}, rank, worldSize });

describe('StreamingDataset over local MDS streams', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let a: string;
  let b: string;
  beforeAll(async () => {
    tmp = await tempDir();
    a = join(tmp.dir, 'a');
    b = join(tmp.dir, 'b');
    await writeMds(a, { n: 300, tag: 1, bytes: 24 });
    await writeMds(b, { n: 100, tag: 2, bytes: 40, compression: 'zstd', hashes: ['sha1'] });
  });
  afterAll(() => tmp.cleanup());

  const open = (extra: Partial<StreamingDatasetOptions<Sample>> = {}) =>
    StreamingDataset.open<Sample>({
      streams: [
        { local: a, name: 'a' },
        { local: b, name: 'b', validateHash: 'sha1' },
      ],
      world: worldOf(0, 1),
      shuffleBlockSize: 64,
      ...extra,
    });

  it('reads every sample of both streams once per epoch, verified, in a shuffled order', async () => {
    await using ds = await open();
    const uids: number[] = [];
    for await (const s of ds) {
      expect([...s.payload]).toEqual([...payloadOf(s.uid, s.uid >= 2e6 ? 40 : 24)]);
      uids.push(s.uid);
    }
    expect(uids.length).toBe(400);
    expect(new Set(uids).size).toBe(400);
    expect(uids.slice(0, 20)).not.toEqual([...uids].sort((x, y) => x - y).slice(0, 20));
    expect(ds.epoch).toBe(1);
    const m = ds.metrics();
    expect(m.samples).toBe(400);
    expect(m.shares.map((s) => s.actual)).toEqual([0.75, 0.25]);
    expect(m.shares.map((s) => s.target)).toEqual([0.75, 0.25]);
  });

  it('weights streams by proportion with epochSize, and batches', async () => {
    await using ds = await open({
      streams: [
        { local: a, proportion: 1 },
        { local: b, proportion: 1 },
      ],
      epochSize: 200,
      batchSize: 8,
    });
    let n = 0;
    const perStream = [0, 0];
    for await (const batch of ds.batches()) {
      expect(batch.length).toBe(8);
      for (const s of batch) perStream[s.uid >= 2e6 ? 1 : 0]! += 1;
      n += batch.length;
    }
    expect(n).toBe(200);
    expect(perStream).toEqual([100, 100]);
    expect(ds.stateDict()).toMatchObject({ epoch: 1, samplesSeen: 0 });
    expect(ds.metrics().samples).toBe(200);
  });

  it('splits an epoch over ranks exactly once and resumes elastically from stateDict', async () => {
    // Run 1: 3 ranks read 40 samples each, then the job stops.
    const seen: number[] = [];
    let state: ReturnType<StreamingDataset['stateDict']> | undefined;
    for (let rank = 0; rank < 3; rank++) {
      await using ds = await open({ world: worldOf(rank, 3), seed: 5 });
      let k = 0;
      for await (const s of ds) {
        seen.push(s.uid);
        if (++k === 40) break;
      }
      state ??= ds.stateDict();
      expect(ds.stateDict()).toEqual(state);
    }
    expect(state?.samplesSeen).toBe(120);
    expect(state?.numCanonicalNodes).toBe(3);
    // Run 2: 2 ranks continue the same global order from the saved state.
    for (let rank = 0; rank < 2; rank++) {
      await using ds = await open({ world: worldOf(rank, 2), seed: 5 });
      ds.loadStateDict(state!);
      for await (const { sample, info } of ds.entries()) if (!info.padding) seen.push(sample.uid);
    }
    expect(seen.length).toBe(400);
    expect(new Set(seen).size).toBe(400);
  });

  it('resumes a stratified order under another world with the saved global batch size', async () => {
    const opts = {
      streams: [
        { local: a, proportion: 3 },
        { local: b, proportion: 1 },
      ],
      batching: 'stratified' as const,
      seed: 2,
    };
    const read: number[] = [];
    let state: ReturnType<StreamingDataset['stateDict']> | undefined;
    for (let rank = 0; rank < 2; rank++) {
      await using ds = await open({ ...opts, world: worldOf(rank, 2), batchSize: 4 });
      let k = 0;
      for await (const batch of ds.batches()) {
        read.push(...batch.map((s) => s.uid));
        if (++k === 10) break;
      }
      state = ds.stateDict();
    }
    expect(state).toMatchObject({ samplesSeen: 80, globalBatchSize: 8 });
    await using single = await open({ ...opts, world: worldOf(0, 1), batchSize: 4 }); // global batch 4 here, 8 saved
    single.loadStateDict(state!);
    for await (const s of single) read.push(s.uid);
    single.setEpoch(0);
    const expected = [...single.plan().ids].map((id) => (id < 300 ? 1e6 + id : 2e6 + id - 300));
    expect(read.sort((x, y) => x - y)).toEqual(expected.sort((x, y) => x - y));
  });

  it('pads an uneven tail per rank, or drops it', async () => {
    const counts = async (dropLast: boolean) => {
      const out: Array<{ n: number; pad: number }> = [];
      for (let rank = 0; rank < 3; rank++) {
        await using ds = await open({ world: worldOf(rank, 3), batchSize: 7, dropLast });
        let n = 0;
        let pad = 0;
        for await (const { info } of ds.entries()) {
          n++;
          pad += info.padding ? 1 : 0;
        }
        out.push({ n, pad });
      }
      return out;
    };
    // 400 samples, global batch 21: 19 full batches (399) + 1 sample.
    const padded = await counts(false);
    expect(padded.map((c) => c.n)).toEqual([140, 140, 140]);
    expect(padded.reduce((x, c) => x + c.n - c.pad, 0)).toBe(400);
    const dropped = await counts(true);
    expect(dropped.map((c) => c.n)).toEqual([133, 133, 133]);
  });

  it('random access, Arrow metadata of what was read, transforms with per-sample rng', async () => {
    await using ds = await StreamingDataset.open({
      streams: [{ local: a }, { local: b }],
      world: worldOf(0, 1),
      transform: (s, r) => ({ uid: s.uid as number, draw: r.float() }),
    });
    expect((await ds.get(305)).uid).toBe(2e6 + 5);
    let k = 0;
    const draws: number[] = [];
    for await (const s of ds) {
      draws.push(s.draw);
      if (++k === 10) break;
    }
    const table = ds.getData();
    expect(table.numRows).toBe(10);
    expect(table.schema.fields.map((f) => f.name)).toEqual([
      'position',
      'sample',
      'stream',
      'shard',
      'index',
      'padding',
    ]);
    await using again = await StreamingDataset.open({
      streams: [{ local: a }, { local: b }],
      world: worldOf(0, 1),
      transform: (s, r) => ({ uid: s.uid as number, draw: r.float() }),
    });
    const again10: number[] = [];
    for await (const s of again) {
      again10.push(s.draw);
      if (again10.length === 10) break;
    }
    expect(again10).toEqual(draws);
    await expect(ds.get(400)).rejects.toThrow(/outside the dataset/);
  });

  it('rejects states of another seed or plan version, naming the field', async () => {
    await using ds = await open({ seed: 1 });
    const state = ds.stateDict();
    await using other = await open({ seed: 2 });
    const err = (() => {
      try {
        other.loadStateDict(state);
      } catch (e) {
        return e;
      }
    })();
    expect(isStreamsError(err, 'STREAMS_STATE_INVALID')).toBe(true);
    expect(() => ds.loadStateDict({ ...state, version: 99 })).toThrow(/plan version 99/);
    expect(() => ds.loadStateDict({ ...state, samplesSeen: -1 })).toThrow(/samplesSeen/);
  });

  it('stops on abort with an AbortError, and reports progress events with target vs actual shares', async () => {
    const controller = new AbortController();
    const events: Array<Record<string, number>> = [];
    await using ds = await open({
      signal: controller.signal,
      onEvent: (e) => e.counters && events.push(e.counters),
    });
    let k = 0;
    const err = await (async () => {
      for await (const _ of ds) if (++k === 50) controller.abort();
    })().catch((e: unknown) => e);
    expect((err as Error).name).toBe('AbortError');
    expect(k).toBe(50); // nothing is handed out after the abort
    expect(ds.stateDict().samplesSeen).toBe(50);
    // A new iteration with a live signal resumes where the aborted one stopped.
    const rest: number[] = [];
    for await (const s of ds.entries({ signal: new AbortController().signal }))
      rest.push(s.sample.uid);
    expect(rest.length).toBe(350);
    expect(ds.metrics().samples).toBe(400);
    const last = events[events.length - 1]!;
    expect(last['share.0.target']).toBe(0.75);
    expect(last['share.1.actual']).toBeCloseTo(0.25);
    expect(last.samples).toBe(400);
  });

  it('fails clearly on a stream that is not a dataset', async () => {
    const err = await StreamingDataset.open({
      streams: [{ local: join(tmp.dir, 'nope'), name: 'ghost' }],
      world: worldOf(0, 1),
    }).catch((e: unknown) => e);
    expect(isStreamsError(err, 'STREAMS_NOT_FOUND'), String(err)).toBe(true);
    expect((err as Error).message).toContain('ghost');
  });

  it('bounds the epoch plan by planMemory and 2^32 samples, failing at open before allocating', async () => {
    // An index.json whose declarations are each plausible, 2000 shards of a million 4-byte samples:
    // two billion samples that would take tens of GB to plan.
    const dir = join(tmp.dir, 'billions');
    await mkdir(dir, { recursive: true });
    const shard = (k: number) => ({
      version: 2,
      format: 'mds',
      column_names: ['x'],
      column_encodings: ['int32'],
      column_sizes: [4],
      samples: 1e6,
      raw_data: { basename: `shard.${k}.mds`, bytes: 4 * (1e6 + 2) + 4e6 },
    });
    const write = (n: number) =>
      writeFile(
        join(dir, 'index.json'),
        JSON.stringify({ version: 2, shards: Array.from({ length: n }, (_, k) => shard(k)) }),
      );
    const openFails = async (o: Partial<StreamingDatasetOptions<Sample>>) =>
      StreamingDataset.open<Sample>({ local: dir, world: worldOf(0, 1), ...o }).then(
        async (ds) => {
          await ds.close();
          return undefined;
        },
        (e: unknown) => e,
      );
    await write(2000);
    let err = await openFails({});
    expect(isStreamsError(err, 'STREAMS_INVALID_CONFIG'), String(err)).toBe(true);
    expect((err as Error).message).toMatch(/planMemory/);
    // Subsampling keeps the plan small: that opens.
    expect(await openFails({ epochSize: 1000 })).toBeUndefined();
    // An epoch size past 2^32 samples, from a small stream.
    err = await openFails({ local: a, epochSize: 2 ** 40, planMemory: 2 ** 50 });
    expect(isStreamsError(err, 'STREAMS_NOT_IMPLEMENTED'), String(err)).toBe(true);
    await write(5000); // 5e9 underlying samples: ids are 32-bit
    err = await openFails({ epochSize: 1000 });
    expect(isStreamsError(err, 'STREAMS_NOT_IMPLEMENTED'), String(err)).toBe(true);
  });
});
