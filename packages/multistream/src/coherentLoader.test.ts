import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isStreamsError } from '@streams/core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { coherentBatchCount, coherentBatches } from './coherentBatches.js';
import {
  type CoherentDataBatch,
  CoherentLoader,
  type CoherentLoaderOptions,
} from './coherentLoader.js';
import { textFileSequences } from './sequenceSources/textFiles.js';
import { tokenSequences } from './sequenceSources/tokens.js';

/** The 27 texts of the README example: text i has 1 + (i mod 4) + (i mod 3) words `t<i>w<j>`. */
const TEXTS = Array.from({ length: 27 }, (_, i) =>
  Array.from({ length: 1 + (i % 4) + (i % 3) }, (_, j) => `t${i}w${j}`).join(' '),
);
const VOCAB = Object.fromEntries(
  TEXTS.flatMap((t, i) => t.split(' ').map((w, j) => [w, i * 100 + j] as const)),
);

/** Rows of a batch as strings: `i.j` per cell (text i, word j), `.` where padded. */
function rows(b: CoherentDataBatch): string[] {
  const data = b.data as Int32Array;
  return Array.from({ length: b.slots }, (_, r) =>
    Array.from({ length: b.steps }, (_, t) => {
      const c = r * b.steps + t;
      return b.padMask[c] ? '.' : `${Math.floor(data[c]! / 100)}.${data[c]! % 100}`;
    }).join(' '),
  );
}

async function all<B>(loader: CoherentLoader<B>, n = Number.POSITIVE_INFINITY): Promise<B[]> {
  const out: B[] = [];
  for await (const b of loader.batches()) {
    out.push(b);
    if (out.length >= n) break;
  }
  return out;
}

let dir: string;
let paths: string[];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'streams-texts-'));
  paths = [];
  for (const [i, t] of TEXTS.entries()) {
    const p = join(dir, `text${String(i).padStart(2, '0')}.txt`);
    await writeFile(p, `${t}\n`);
    paths.push(p);
  }
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('CoherentLoader', () => {
  it('the 27-text example gives exactly the batches printed in the README (worker threads)', async () => {
    await using loader = await CoherentLoader.open({
      source: textFileSequences(paths, { vocabulary: VOCAB }),
      slots: 4,
      steps: 5,
      shuffle: false,
      world: { rank: 0, worldSize: 1 },
    });
    const batches = await all(loader);
    expect(batches.map(rows)).toEqual([
      ['0.0 4.0 4.1 5.0 5.1', '1.0 1.1 1.2 6.0 6.1', '2.0 2.1 2.2 2.3 2.4', '3.0 3.1 3.2 3.3 7.0'],
      [
        '5.2 5.3 10.0 10.1 10.2',
        '6.2 9.0 9.1 11.0 11.1',
        '8.0 8.1 8.2 12.0 13.0',
        '7.1 7.2 7.3 7.4 14.0',
      ],
      [
        '10.3 15.0 15.1 15.2 15.3',
        '11.2 11.3 11.4 11.5 17.0',
        '13.1 13.2 16.0 16.1 18.0',
        '14.1 14.2 14.3 14.4 19.0',
      ],
      [
        '20.0 20.1 20.2 22.0 22.1',
        '17.1 17.2 17.3 23.0 23.1',
        '18.1 18.2 21.0 21.1 24.0',
        '19.1 19.2 19.3 19.4 25.0',
      ],
      ['22.2 22.3 . . .', '23.2 23.3 23.4 23.5 .', '26.0 26.1 26.2 26.3 26.4', '25.1 25.2 . . .'],
    ]);
    // Every word of every text exactly once, in order within its text.
    const seen = new Map<number, number[]>();
    for (const b of batches) {
      const data = b.data as Int32Array;
      for (let c = 0; c < data.length; c++) {
        if (b.padMask[c]) continue;
        const text = Math.floor(data[c]! / 100);
        seen.set(text, [...(seen.get(text) ?? []), data[c]! % 100]);
        expect(b.resetMask[c]).toBe(data[c]! % 100 === 0 ? 1 : 0);
      }
    }
    expect(seen.size).toBe(27);
    for (const [i, words] of seen) expect(words).toEqual(TEXTS[i]!.split(' ').map((_, j) => j));
  });
});

describe('coherentBatchCount', () => {
  it('equals the number of batches the planner makes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 12 }), { maxLength: 30 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 6 }),
        (lengths, K, T) => {
          const order = lengths.map((_, i) => i).reverse();
          const made = [...coherentBatches(lengths, order, { slots: K, steps: T })].length;
          expect(coherentBatchCount(lengths, order, K, T)).toBe(made);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('CoherentLoader over token arrays', () => {
  const seqs = Array.from({ length: 23 }, (_, i) =>
    Int32Array.from({ length: 1 + ((i * 5) % 9) }, (_, j) => i * 1000 + j),
  );
  const open = (o: Partial<CoherentLoaderOptions<CoherentDataBatch>> = {}) =>
    CoherentLoader.open<CoherentDataBatch>({
      source: tokenSequences(seqs),
      slots: 3,
      steps: 4,
      seed: 7,
      ...o,
    });

  it('row r of batch b+1 continues row r of batch b; resets exactly where a sequence starts', async () => {
    await using loader = await open({ world: { rank: 0, worldSize: 1 } });
    const batches = await all(loader);
    expect(batches.length).toBe(loader.batchesPerEpoch(0));
    for (let r = 0; r < 3; r++) {
      let prev: number | undefined;
      for (const b of batches) {
        for (let t = 0; t < 4; t++) {
          const c = r * 4 + t;
          if (b.padMask[c]) {
            prev = undefined;
            continue;
          }
          const v = (b.data as Int32Array)[c]!;
          if (b.resetMask[c]) expect(v % 1000).toBe(0);
          else expect(v).toBe(prev! + 1);
          prev = v;
        }
      }
    }
    expect(batches[0]!.shape).toEqual([3, 4]);
    expect(batches[0]!.data).toBeInstanceOf(Int32Array);
  });

  it('partitions whole sequences over ranks, each once, with equal batch counts (padding batches)', async () => {
    const perRank = await Promise.all(
      [0, 1, 2].map(async (rank) => {
        await using l = await open({ world: { rank, worldSize: 3 } });
        const order = [...l.rankOrder()];
        return { batches: await all(l), order };
      }),
    );
    const counts = perRank.map((r) => r.batches.length);
    expect(new Set(counts).size).toBe(1);
    const sequences = perRank.flatMap((r) => r.order).sort((a, b) => a - b);
    expect(sequences).toEqual(seqs.map((_, i) => i));
    for (const { batches, order } of perRank) {
      const got = new Set<number>();
      for (const b of batches) for (const s of b.sequence) if (s >= 0) got.add(s);
      expect([...got].sort((a, b) => a - b)).toEqual([...order].sort((a, b) => a - b));
      const tail = batches.at(-1)!;
      // A rank that finished early hands out all-padding batches.
      if (!tail.sequence.some((s) => s >= 0))
        expect([...tail.padMask].every((p) => p === 1)).toBe(true);
    }
  });

  it('resumes exactly: the rows after a resume equal those of an uninterrupted run', async () => {
    await using whole = await open({ world: { rank: 1, worldSize: 2 } });
    const expected = await all(whole);
    await using first = await open({ world: { rank: 1, worldSize: 2 } });
    const head = await all(first, 3);
    const state = JSON.parse(JSON.stringify(first.state()));
    await using resumed = await open({ world: { rank: 1, worldSize: 2 }, state });
    const tail = await all(resumed);
    expect([...head, ...tail].map((b) => [...b.data])).toEqual(expected.map((b) => [...b.data]));
    expect([...head, ...tail].map((b) => [...b.resetMask])).toEqual(
      expected.map((b) => [...b.resetMask]),
    );
    expect(tail.map((b) => b.index)).toEqual(expected.slice(3).map((b) => b.index));
    // The next iteration reads epoch 1, in another order.
    expect(resumed.epoch).toBe(1);
    const next = await all(resumed);
    expect(next.map((b) => [...b.data])).not.toEqual(expected.map((b) => [...b.data]));
    await expect(open({ world: { rank: 0, worldSize: 2 }, state })).rejects.toThrow(
      /state has rank 1, the loader 0/,
    );
  });

  it('takes a custom collate; refuses bad options and sources whose decode disagrees with lengths', async () => {
    await using l = await CoherentLoader.open({
      source: tokenSequences(seqs),
      slots: 2,
      steps: 3,
      world: { rank: 0, worldSize: 1 },
      collate: (plan, item) => ({
        first: item(0, 0)?.[0],
        resets: plan.resetMask.reduce((a, b) => a + b, 0),
      }),
    });
    const [b] = await all(l, 1);
    expect(b!.resets).toBe(2);
    expect(typeof b!.first).toBe('number');
    await expect(open({ slots: 0 })).rejects.toThrow(/slots >= 1/);
    const liar = { ...tokenSequences(seqs), lengths: async () => seqs.map((s) => s.length + 1) };
    await using bad = await CoherentLoader.open({
      source: liar,
      slots: 2,
      steps: 3,
      world: { rank: 0, worldSize: 1 },
    });
    const err = await all(bad).catch((e: unknown) => e);
    expect(isStreamsError(err, 'STREAMS_DECODE_FAILED')).toBe(true);
  });
});
