// The Snap design end to end: a Parquet index table whose rows name 2,000 small PNGs (made here
// with sharp) served by node:http behind the test kit's fault proxy (20% of requests faulted),
// some rows broken (missing file, wrong size, truncated image). Two real processes read one epoch
// as two ranks sharing a node cache, decoding with imageClassification; one is SIGKILLed and
// resumed from its checkpoint. Together they read every good row exactly once, report every broken
// row, and keep the node cache under its budget the whole time.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseBytes } from '@streams/core';
import { buildIndex } from '@streams/index';
import { startFaultProxy, startHttpServer } from '@streams/testkit';
import sharp from 'sharp';
import { expect, it } from 'vitest';
import { payloadOf, runRank, tempDir } from './fixtures.js';

const worker = fileURLToPath(new URL('./snapWorker.ts', import.meta.url));
const ROWS = 2000;
const CACHE_LIMIT = '512kb';

/** Rank `rank` of the two-rank job (one node). */
const runSnapRank = (rank: number, env: Record<string, string>) =>
  runRank(worker, rank, {
    WORLD_SIZE: '2',
    LOCAL_RANK: String(rank),
    LOCAL_WORLD_SIZE: '2',
    ...env,
  });

interface RankOut {
  ids: number[];
  skipped: number[];
  maxCache: number;
}

it(
  'two ranks, one SIGKILLed and resumed: every good row once, broken rows reported, cache under budget',
  { timeout: 180_000 },
  async () => {
    const tmp = await tempDir();
    try {
      const www = join(tmp.dir, 'www');
      await mkdir(join(www, 'img'), { recursive: true });
      // Rows 0-9 name missing files, 10-19 declare the wrong size, 20-29 hold truncated PNGs.
      const step = Math.floor(ROWS / 30);
      const broken = new Set(Array.from({ length: 30 }, (_, i) => i * step + 3));
      const kindOf = (i: number) => (broken.has(i) ? Math.floor((i - 3) / step / 10) : -1);
      const rows = ['url,label,size'];
      for (let i = 0; i < ROWS; i++) {
        // 16x16 RGB noise: incompressible, about 850 bytes a PNG.
        let png = await sharp(Buffer.from(payloadOf(i, 16 * 16 * 3)), {
          raw: { width: 16, height: 16, channels: 3 },
        })
          .png()
          .toBuffer();
        if (kindOf(i) === 2) png = png.subarray(0, 100);
        if (kindOf(i) !== 0) await writeFile(join(www, 'img', `${i}.png`), png);
        rows.push(`img/${i}.png,${i % 10},${png.length + (kindOf(i) === 1 ? 7 : 0)}`);
      }
      await writeFile(join(tmp.dir, 'rows.csv'), `${rows.join('\n')}\n`);
      await buildIndex({
        sql: `SELECT * FROM read_csv('${join(tmp.dir, 'rows.csv')}')`,
        out: join(www, 'index.parquet'),
      });
      await using server = await startHttpServer({ root: www });
      await using proxy = await startFaultProxy({
        target: server.url.replace(/\/$/, ''),
        rate: 0.2,
        // Failures, not throttling: 429/503 would (rightly) shrink the engine's concurrency (AIMD).
        kinds: ['http500', 'reset', 'truncate'],
        seed: 3,
      });
      const cacheDir = join(tmp.dir, 'cache');
      const common = { INDEX: `${proxy.url}/index.parquet`, CACHE_DIR: cacheDir, CACHE_LIMIT };
      const outOf = (name: string) => join(tmp.dir, `${name}.json`);
      await Promise.all([
        runSnapRank(0, { ...common, OUT: outOf('rank0') }),
        runSnapRank(1, {
          ...common,
          OUT: outOf('rank1'),
          STOP_AFTER: String(Math.floor(ROWS * 0.15)),
        }),
      ]);
      const read = async (name: string) =>
        JSON.parse(await readFile(outOf(name), 'utf8')) as RankOut;
      expect((await read('rank1')).ids).toHaveLength(Math.floor(ROWS * 0.15));
      // Rank 1 restarts from its checkpoint on the same node cache (its dead pins are reaped).
      await runSnapRank(1, { ...common, OUT: outOf('rank1-resumed'), RESUME: outOf('rank1') });
      const ranks = [await read('rank0'), await read('rank1-resumed')];
      const ids = ranks.flatMap((r) => r.ids).sort((a, b) => a - b);
      const good = Array.from({ length: ROWS }, (_, i) => i).filter((i) => !broken.has(i));
      expect(ids).toEqual(good);
      const skipped = new Set(ranks.flatMap((r) => r.skipped));
      expect([...skipped].sort((a, b) => a - b)).toEqual([...broken].sort((a, b) => a - b));
      for (const r of ranks) expect(r.maxCache).toBeLessThanOrEqual(parseBytes(CACHE_LIMIT));
      // The faults happened and were retried through.
      expect(proxy.faults.http500 + proxy.faults.reset + proxy.faults.truncate).toBeGreaterThan(
        200,
      );
    } finally {
      await tmp.cleanup();
    }
  },
);
