// Issue #11: a 10M-row Parquet index stream opens and serves its first batch under 500 MB of peak
// RSS, through StreamingDataset (the shuffled epoch plan, its partition and the prefetch window),
// not only through openDataset (index/test/lazyIndexRss.test.ts). Measured as the peak RSS of a
// child process (not by timing). The index is metadata only: an id and a label, no URL column
// (DuckDB writes it in a few seconds, where a URL column of 10M strings takes three times as long).
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { tempDir } from './fixtures.js';

const ROWS = 10_000_000;
const BATCH = 32;
let tmp: Awaited<ReturnType<typeof tempDir>>;
let file: string;

beforeAll(async () => {
  tmp = await tempDir();
  file = join(tmp.dir, 'index-10m.parquet');
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  try {
    await c.run(
      `COPY (SELECT i AS id, (i % 1000)::INTEGER AS label FROM range(${ROWS}) t(i)) TO '${file}' (FORMAT parquet)`,
    );
  } finally {
    c.closeSync();
    db.closeSync();
  }
}, 60_000);
afterAll(() => tmp?.cleanup());

it('a 10M-row Parquet index stream serves its first shuffled batch under 500 MB peak RSS', async () => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      '--conditions=@streams/source',
      '--import',
      'tsx',
      join(import.meta.dirname, 'planRssChild.ts'),
      file,
      String(BATCH),
    ],
    { cwd: join(import.meta.dirname, '..'), maxBuffer: 1 << 20 },
  );
  const r = JSON.parse(stdout.trim().split('\n').pop() as string) as {
    epochLength: number;
    units: number;
    planned: number[];
    first: Array<{ id: number; label: number }>;
    maxRssMB: number;
  };
  expect(r.epochLength).toBe(ROWS);
  // DuckDB's row groups of 122,880 rows are the units.
  expect(r.units).toBe(Math.ceil(ROWS / 122_880));
  // The first batch is the plan's first batch, shuffled, and the rows are those rows.
  expect(r.first.map((s) => s.id)).toEqual(r.planned);
  expect(r.planned).not.toEqual(Array.from({ length: BATCH }, (_, i) => i));
  expect(new Set(r.planned).size).toBe(BATCH);
  for (const s of r.first) expect(s.label).toBe(s.id % 1000);
  console.log(
    `10M-row Parquet stream: first shuffled batch at ${Math.round(r.maxRssMB)} MB peak RSS`,
  );
  expect(r.maxRssMB).toBeLessThan(500);
}, 60_000);
