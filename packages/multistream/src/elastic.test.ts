import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WdsWriter } from '@streams/index';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir, writeMds } from '../test/fixtures.js';
import { StreamingDataset } from './streamingDataset.js';

type Sample = { uid?: number; cls?: number; payload: Uint8Array };

describe('StreamingDataset: elastic resume at random cut points (property)', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let a: string;
  let b: string;
  let ta: string;
  let tb: string;
  let wa: string;
  let wb: string;
  beforeAll(async () => {
    tmp = await tempDir();
    a = join(tmp.dir, 'a');
    b = join(tmp.dir, 'b');
    await writeMds(a, { n: 120, tag: 1, sizeLimit: 600 });
    await writeMds(b, { n: 50, tag: 2, sizeLimit: 600 });
    // The same uids as index tables: a sample is a row, a unit a chunk of 16 rows.
    ta = join(tmp.dir, 'a.csv');
    tb = join(tmp.dir, 'b.csv');
    const rows = (n: number, tag: number) =>
      `uid\n${Array.from({ length: n }, (_, i) => tag * 1e6 + i).join('\n')}\n`;
    await writeFile(ta, rows(120, 1));
    await writeFile(tb, rows(50, 2));
    // The same uids as WebDataset tars with their wids shard index: counts from the index, no tar
    // counted at open.
    const tars = async (dir: string, n: number, tag: number) => {
      const w = new WdsWriter({ out: dir, maxShardSamples: 16 });
      for (let i = 0; i < n; i++) await w.write({ __key__: `s${i}`, cls: tag * 1e6 + i });
      await w.finish();
      return join(dir, 'shardindex.json');
    };
    wa = await tars(join(tmp.dir, 'wa'), 120, 1);
    wb = await tars(join(tmp.dir, 'wb'), 50, 2);
  });
  afterAll(() => tmp.cleanup());

  for (const kind of ['mds', 'table', 'wids'] as const)
    it(`${kind}: two runs on different worlds read the weighted epoch exactly once together`, async () => {
      const table = kind === 'table';
      const [sa, sb] = { mds: [a, b], table: [ta, tb], wids: [wa, wb] }[kind];
      const uid = (s: Sample) => (kind === 'wids' ? s.cls : s.uid) as number;
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 4 }),
          fc.integer({ min: 1, max: 4 }),
          fc.integer({ min: 1, max: 5 }),
          fc.integer({ min: 1, max: 5 }),
          fc.nat(60),
          fc.integer({ min: 0, max: 1000 }),
          fc.constantFrom('py1e' as const, 'py1b' as const, 'py1s' as const, 'naive' as const),
          async (w1, w2, b1, b2, cutDraw, seed, shuffleAlgorithm) => {
            // Stop run 1 inside the epoch (a finished epoch moves the state to the next one).
            const cut = cutDraw % Math.ceil(150 / w1);
            const options = {
              streams: [
                { local: sa, proportion: 2 },
                { local: sb, proportion: 1 },
              ],
              ...(table ? { format: 'table', chunkRows: 16 } : {}),
              epochSize: 150,
              seed,
              shuffleAlgorithm,
              shuffleBlockSize: 32,
            };
            const read: number[] = [];
            let state: ReturnType<StreamingDataset['stateDict']> | undefined;
            // Run 1: every rank of world 1 reads `cut` samples (whole job in lockstep), then stops.
            for (let rank = 0; rank < w1; rank++) {
              await using ds = await StreamingDataset.open<Sample>({
                ...options,
                world: { rank, worldSize: w1 },
                batchSize: b1,
              });
              let k = 0;
              if (cut > 0) {
                for await (const { sample, info } of ds.entries()) {
                  if (!info.padding) read.push(uid(sample)); // a sample handed out is consumed
                  if (++k === cut) break;
                }
              }
              state = ds.stateDict();
            }
            // Run 2: world 2 continues from the saved state to the end of the epoch.
            let expected: number[] = [];
            for (let rank = 0; rank < w2; rank++) {
              await using ds = await StreamingDataset.open<Sample>({
                ...options,
                world: { rank, worldSize: w2 },
                batchSize: b2,
              });
              ds.loadStateDict(state!);
              expected = [...ds.plan().ids].map((id) => (id < 120 ? 1e6 + id : 2e6 + id - 120));
              for await (const { sample, info } of ds.entries())
                if (!info.padding) read.push(uid(sample));
            }
            expect(read.sort((x, y) => x - y)).toEqual(expected.sort((x, y) => x - y));
          },
        ),
        { numRuns: kind === 'mds' ? 60 : 20 },
      );
    });
});
