import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir, writeMds } from '../test/fixtures.js';
import { linearSchedule } from './schedule.js';
import { StreamingDataset } from './streamingDataset.js';

type Sample = { uid: number; payload: Uint8Array };

describe('StreamingDataset with a time-varying schedule', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let a: string;
  let b: string;
  beforeAll(async () => {
    tmp = await tempDir();
    a = join(tmp.dir, 'a');
    b = join(tmp.dir, 'b');
    await writeMds(a, { n: 37, tag: 1 });
    await writeMds(b, { n: 23, tag: 2 });
  });
  afterAll(() => tmp.cleanup());

  const schedule = linearSchedule([
    { step: 0, weights: [1, 0] },
    { step: 10, weights: [0, 1] },
  ]);
  const open = (rank: number, worldSize: number, batchSize: number) =>
    StreamingDataset.open<Sample>({
      streams: [{ local: a }, { local: b }],
      world: { rank, worldSize },
      batchSize,
      schedule,
      scheduleStepSize: 10,
      scheduleSteps: 30,
      seed: 4,
    });

  it('mixes each step by the schedule, cycling through each stream with a new order per pass', async () => {
    await using ds = await open(0, 1, 10);
    const steps: number[][] = [];
    for await (const batch of ds.batches()) steps.push(batch.map((s) => s.uid));
    expect(steps.length).toBe(30);
    // Step t takes t samples of stream b (t <= 10), then b only.
    expect(steps.map((uids) => uids.filter((u) => u >= 2e6).length)).toEqual(
      steps.map((_, t) => Math.min(t, 10)),
    );
    // Stream a: 55 samples over steps 0-9 = one full pass of 37 then part of a second, each pass once.
    const fromA = steps.flat().filter((u) => u < 2e6);
    expect(fromA.length).toBe(55);
    expect(new Set(fromA.slice(0, 37)).size).toBe(37);
    expect(ds.stateDict()).toMatchObject({
      samplesSeen: 300,
      schedulePosition: 30,
      scheduleStepSize: 10,
    });
  });

  it('rejects a schedule with the wrong number of weights', async () => {
    const err = await StreamingDataset.open({
      streams: [{ local: a }, { local: b }],
      world: { rank: 0, worldSize: 1 },
      schedule: linearSchedule([{ step: 0, weights: [1, 1, 1] }]),
    }).catch((e: unknown) => e);
    expect((err as Error).message).toContain('schedule gives 3 weights for 2 streams');
  });

  it('resumes elastically from a saved step', async () => {
    const all: number[] = [];
    {
      await using ds = await open(0, 1, 10);
      for await (const batch of ds.batches()) all.push(...batch.map((s) => s.uid));
    }
    const seen: number[] = [];
    let state: ReturnType<StreamingDataset['stateDict']> | undefined;
    {
      await using ds = await open(0, 1, 10);
      let k = 0;
      for await (const batch of ds.batches()) {
        seen.push(...batch.map((s) => s.uid));
        if (++k === 7) break;
      }
      state = ds.stateDict();
      expect(state.schedulePosition).toBe(7);
    }
    // Two ranks of batch 5 continue the same sequence (global batch 10 = one step).
    const rest: number[] = [];
    for (let rank = 0; rank < 2; rank++) {
      await using ds = await open(rank, 2, 5);
      ds.loadStateDict(state!);
      for await (const s of ds) rest.push(s.uid);
    }
    expect([...seen, ...rest].sort()).toEqual([...all].sort());
  });
});
