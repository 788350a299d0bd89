// Coherent video batches end to end: a directory of mp4 clips made with ffmpeg (each frame carries
// its clip and frame index in its pixels) streams as [K, T, H, W, C] batches under 2 worker
// threads and 2 ranks, across a resume; the sequence sources pass the conformance suite.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MdsWriter } from '@streams/index';
import { TransformPool } from '@streams/transforms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CoherentDataBatch,
  CoherentLoader,
  type SequenceSource,
  StreamingDataset,
  streamingDatasetSequences,
  textFileSequences,
  tokenSequences,
  videoDirectorySequences,
} from '../src/index.js';
import { frameLabel, makeClips } from './clips.js';
import { testSequenceSource } from './sequenceSourceSuite.js';

const FRAMES = [5, 7, 3, 9, 6];
const SIZE = 16;
let root: string;
let clips: string;
let mds: string;
// One pool of 2 worker threads for every loader here: starting threads is the slow part of a test.
const pool = new TransformPool({ size: 2 });

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'streams-coherent-'));
  clips = join(root, 'clips');
  const paths = await makeClips(clips, FRAMES);
  // The same clips as MDS samples (video bytes, frame count, a token array), and as text files.
  mds = join(root, 'mds');
  const w = new MdsWriter({
    out: mds,
    columns: { video: 'bytes', frames: 'int', tokens: 'ndarray:int32' },
  });
  for (const [i, p] of paths.entries()) {
    await w.write({
      video: new Uint8Array(await readFile(p)),
      frames: FRAMES[i]!,
      tokens: { data: Int32Array.from({ length: i + 2 }, (_, j) => 10 * i + j), shape: [i + 2] },
    });
  }
  await w.finish();
  for (const i of [0, 1]) await writeFile(join(root, `t${i}.txt`), 'a b  c\nd'.repeat(i + 1));
}, 120_000);
afterAll(async () => {
  await pool.close();
  await rm(root, { recursive: true, force: true });
});

/** Checks every cell: the pixels name the sequence's clip and the cell's position. */
function checkFrames(batches: CoherentDataBatch[], clipOf: (seq: number) => number) {
  const frame = SIZE * SIZE * 3;
  for (const b of batches) {
    expect(b.shape).toEqual([2, 4, SIZE, SIZE, 3]);
    const data = b.data as Uint8Array;
    for (let c = 0; c < b.sequence.length; c++) {
      if (b.padMask[c]) {
        expect(data.subarray(c * frame, (c + 1) * frame).every((v) => v === 0)).toBe(true);
        continue;
      }
      const got = frameLabel(data, c * frame, SIZE);
      expect(got).toEqual({ clip: clipOf(b.sequence[c]!), frame: b.position[c]! });
      expect(b.resetMask[c]).toBe(b.position[c] === 0 ? 1 : 0);
    }
  }
  // Row r of batch b+1 continues row r of batch b: consecutive frames, or a reset.
  for (let r = 0; r < 2; r++) {
    let prev: { clip: number; frame: number } | undefined;
    for (const b of batches) {
      for (let t = 0; t < 4; t++) {
        const c = r * 4 + t;
        if (b.padMask[c]) {
          prev = undefined;
          continue;
        }
        const got = frameLabel(b.data as Uint8Array, c * frame, SIZE);
        // A resumed run starts mid-clip: its first cell has no predecessor here.
        if (!b.resetMask[c] && prev)
          expect(got).toEqual({ clip: prev.clip, frame: prev.frame + 1 });
        prev = got;
      }
    }
  }
}

async function all(l: CoherentLoader, n = Number.POSITIVE_INFINITY) {
  const out: CoherentDataBatch[] = [];
  for await (const b of l.batches()) {
    out.push(b);
    if (out.length >= n) break;
  }
  return out;
}

// ffmpeg runs are slow on a loaded machine: generous limits (they bound hangs, they time nothing).
describe('coherent video batches', { timeout: 180_000 }, () => {
  it('2 ranks x 2 worker threads: whole clips per rank, consecutive frames per row, resets at clip starts', async () => {
    const source = await videoDirectorySequences(clips, { size: [SIZE, SIZE] });
    const ranks = await Promise.all(
      [0, 1].map(async (rank) => {
        await using l = await CoherentLoader.open({
          source,
          slots: 2,
          steps: 4,
          seed: 3,
          numWorkers: 2,
          pool,
          world: { rank, worldSize: 2 },
        });
        expect([...l.lengths]).toEqual(FRAMES);
        const order = [...l.rankOrder()];
        return { order, batches: await all(l) };
      }),
    );
    expect(ranks[0]!.batches.length).toBe(ranks[1]!.batches.length);
    expect([...ranks[0]!.order, ...ranks[1]!.order].sort()).toEqual([0, 1, 2, 3, 4]);
    for (const { order, batches } of ranks) {
      checkFrames(batches, (seq) => seq);
      const seen = new Set(batches.flatMap((b) => [...b.sequence].filter((s) => s >= 0)));
      expect([...seen].sort()).toEqual([...order].sort());
      const frames = batches.reduce((a, b) => a + b.padMask.filter((p) => p === 0).length, 0);
      expect(frames).toBe(order.reduce((a, s) => a + FRAMES[s]!, 0));
    }
  });

  it('resumes exactly: after a saved state the rows equal an uninterrupted run', async () => {
    const source = await videoDirectorySequences(clips, { size: [SIZE, SIZE] });
    const o = { source, slots: 2, steps: 4, seed: 5, pool, world: { rank: 0, worldSize: 1 } };
    await using whole = await CoherentLoader.open(o);
    const expected = await all(whole);
    await using first = await CoherentLoader.open(o);
    const head = await all(first, 2);
    await using resumed = await CoherentLoader.open({ ...o, state: first.state() });
    const tail = await all(resumed);
    expect([...head, ...tail].length).toBe(expected.length);
    for (const [k, b] of [...head, ...tail].entries()) {
      expect(
        Buffer.from(b.data as Uint8Array).equals(Buffer.from(expected[k]!.data as Uint8Array)),
      ).toBe(true);
      expect([...b.resetMask]).toEqual([...expected[k]!.resetMask]);
    }
    checkFrames(tail, (seq) => seq);
  });

  it('the same clips as samples of a StreamingDataset (MDS video bytes), decoded in threads', async () => {
    await using ds = await StreamingDataset.open({ local: mds, world: { rank: 0, worldSize: 1 } });
    const source = streamingDatasetSequences(ds, {
      field: 'video',
      lengthField: 'frames',
      kind: 'video',
      video: { size: [SIZE, SIZE] },
    });
    await using l = await CoherentLoader.open({
      source,
      slots: 2,
      steps: 4,
      pool,
      world: { rank: 0, worldSize: 1 },
    });
    checkFrames(await all(l), (seq) => seq);
  });
});

describe('sequence sources: conformance', { timeout: 180_000 }, () => {
  const frameCheck = (i: number, data: unknown) => {
    const d = data as Uint8Array;
    for (let f = 0; f < FRAMES[i]!; f++)
      expect(frameLabel(d, f * SIZE * SIZE * 3, SIZE)).toEqual({ clip: i, frame: f });
  };
  testSequenceSource({
    name: 'videoDirectorySequences',
    pool,
    decoder: true,
    make: () => videoDirectorySequences(clips, { size: [SIZE, SIZE] }),
    check: frameCheck,
  });
  testSequenceSource({
    name: 'streamingDatasetSequences (video, lengths probed)',
    pool,
    decoder: true,
    make: async () =>
      streamingDatasetSequences(
        await StreamingDataset.open({ local: mds, world: { rank: 0, worldSize: 1 } }),
        {
          field: 'video',
          kind: 'video',
          video: { size: [SIZE, SIZE] },
        },
      ),
    check: frameCheck,
  });
  testSequenceSource({
    name: 'streamingDatasetSequences (token ndarrays)',
    decoder: false,
    make: async () =>
      streamingDatasetSequences(
        await StreamingDataset.open({ local: mds, world: { rank: 0, worldSize: 1 } }),
        {
          field: 'tokens',
          kind: 'tokens',
        },
      ),
    check: (i, data) =>
      expect([...data]).toEqual(Array.from({ length: i + 2 }, (_, j) => 10 * i + j)),
  });
  testSequenceSource({
    name: 'textFileSequences (bytes)',
    pool,
    decoder: true,
    make: async (): Promise<SequenceSource> =>
      textFileSequences([join(root, 't0.txt'), join(root, 't1.txt')], { tokens: 'bytes' }),
    check: (i, data) =>
      expect(Buffer.from(Uint8Array.from(data as Int32Array)).toString()).toBe(
        'a b  c\nd'.repeat(i + 1),
      ),
  });
  testSequenceSource({
    name: 'tokenSequences',
    decoder: false,
    make: async () => tokenSequences([Int32Array.of(1, 2, 3), Int32Array.of(4)]),
    check: (i, data) => expect([...data]).toEqual(i === 0 ? [1, 2, 3] : [4]),
  });
});
