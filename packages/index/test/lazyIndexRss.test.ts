// A 10M-row Parquet index opens lazily: the footer and the row group a batch needs, never the whole
// table. Measured as peak RSS of a child process (not by timing), against the 500 MB bound.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { tempDir } from './fixtures.js';

const ROWS = 10_000_000;
let tmp: Awaited<ReturnType<typeof tempDir>>;
let file: string;

beforeAll(async () => {
  tmp = await tempDir();
  file = join(tmp.dir, 'index-10m.parquet');
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  await c.run(
    `COPY (SELECT i AS id, 'images/' || lpad(i::VARCHAR, 9, '0') || '.jpg' AS url, (i % 1000)::INTEGER AS label, 1000 + i % 5000 AS size FROM range(${ROWS}) t(i)) TO '${file}' (FORMAT parquet)`,
  );
  c.closeSync();
  db.closeSync();
}, 120_000);
afterAll(() => tmp.cleanup());

it('a 10M-row Parquet index opens and serves its first batch under 500 MB peak RSS', async () => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      '--import',
      'tsx',
      '--conditions=@streams/source',
      join(import.meta.dirname, 'rssChild.ts'),
      file,
      '32',
    ],
    { cwd: join(import.meta.dirname, '..'), maxBuffer: 1 << 20 },
  );
  const r = JSON.parse(stdout.trim().split('\n').pop() as string) as {
    format: string;
    rows: number;
    first: Array<{ id: number; url: string; label: number }>;
    maxRssMB: number;
  };
  expect(r.format).toBe('table');
  expect(r.rows).toBe(ROWS);
  expect(r.first.map((s) => s.id)).toEqual(Array.from({ length: 32 }, (_, i) => i));
  // URL cells are resolved against the index location (read as metadata: openDataset fetches nothing).
  expect(r.first[31]).toMatchObject({ url: join(tmp.dir, 'images/000000031.jpg'), label: 31 });
  console.log(`10M-row Parquet index: first batch at ${Math.round(r.maxRssMB)} MB peak RSS`);
  expect(r.maxRssMB).toBeLessThan(500);
}, 120_000);
