// Issue #11: the shuffle unit of an index table is a chunk of rows, and for Parquet that chunk is a
// row group, so py1e's locality (a stretch of the order touches few units) is locality in the file.
// The index is written by DuckDB with row groups of chosen, unequal sizes: one thread, each part
// of a UNION ALL (under DuckDB's 2,048-row vector) flushed as its own row group; the test reads the
// layout back from the footer (parquet_metadata) rather than trusting the writer.
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamingDataset } from '../src/index.js';
import { tempDir } from './fixtures.js';

/** Rows per row group: unequal, some smaller and some larger than the shuffle block. */
const GROUPS = [
  37, 120, 5, 250, 64, 90, 180, 41, 300, 13, 77, 150, 22, 210, 58, 99, 140, 33, 260, 51,
];
const ROWS = GROUPS.reduce((a, b) => a + b, 0);
const BLOCK = 32;

describe('a Parquet index table: units are its row groups', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let file: string;
  let footer: number[];
  beforeAll(async () => {
    tmp = await tempDir();
    file = join(tmp.dir, 'index.parquet');
    const db = await DuckDBInstance.create(':memory:', { threads: '1' });
    const c = await db.connect();
    try {
      let at = 0;
      const parts = GROUPS.map((n) => {
        const part = `SELECT i AS id, (i % 7)::INTEGER AS label FROM range(${at}, ${at + n}) t(i)`;
        at += n;
        return part;
      });
      await c.run(
        `COPY (${parts.join(' UNION ALL ')}) TO '${file}' (FORMAT parquet, ROW_GROUP_SIZE 1)`,
      );
      const meta = await c.runAndReadAll(
        `SELECT DISTINCT row_group_id, row_group_num_rows FROM parquet_metadata('${file}') ORDER BY row_group_id`,
      );
      footer = meta.getRowObjects().map((r) => Number(r.row_group_num_rows));
    } finally {
      c.closeSync();
      db.closeSync();
    }
  });
  afterAll(() => tmp?.cleanup());

  const open = (shuffleAlgorithm: 'py1e' | 'naive') =>
    StreamingDataset.open<{ id: number; label: number }>({
      local: file,
      columnsToDownload: [],
      shuffleAlgorithm,
      shuffleBlockSize: BLOCK,
      seed: 7,
      world: { rank: 0, worldSize: 1 },
    });

  /** Per unit, the first and last position of its rows in the order. */
  const stretches = (ids: ArrayLike<number>, starts: readonly number[]) => {
    const unitOf = new Uint32Array(ROWS); // [rows] unit of each row
    for (let u = 0; u + 1 < starts.length; u++) unitOf.fill(u, starts[u]!, starts[u + 1]!);
    const first = new Array<number>(starts.length - 1).fill(Number.POSITIVE_INFINITY);
    const last = new Array<number>(starts.length - 1).fill(-1);
    for (let p = 0; p < ids.length; p++) {
      const u = unitOf[ids[p]!]!;
      first[u] = Math.min(first[u]!, p);
      last[u] = p;
    }
    return first.map((f, u) => last[u]! - f + 1);
  };

  it('the fixture has the row groups it asked for', () => {
    expect(footer).toEqual(GROUPS);
  });

  it('the stream opens with one unit per row group, of its row count', async () => {
    await using ds = await open('py1e');
    const starts = ds.plan().shardOffsets[0]!;
    expect(starts.slice(1).map((s, u) => s - starts[u]!)).toEqual(footer);
  });

  it('py1e reads each row group within a stretch of the order bounded by the block, not the epoch', async () => {
    await using ds = await open('py1e');
    const plan = ds.plan();
    expect(plan.ids.length).toBe(ROWS);
    // The rows come back in plan order, each once.
    const read: number[] = [];
    for await (const row of ds) read.push(Number(row.id));
    expect(read).toEqual([...plan.ids]);
    expect([...read].sort((a, b) => a - b)).toEqual([...Array(ROWS).keys()]);
    expect(read.some((id, p) => id !== p)).toBe(true);
    // py1e moves a row of a unit of z rows at most max(0, (1.25 x block - z) / 2) from the unit's
    // span (D at most), and the sort by that key puts it within D + the largest unit of the key: a
    // unit's rows all lie within z + 4D + 2 x the largest unit. A row group is read as a run of
    // nearby rows, never spread over the epoch.
    const d = Math.ceil((1.25 * BLOCK) / 2);
    const zMax = Math.max(...GROUPS);
    const spread = stretches(plan.ids, plan.shardOffsets[0]!);
    spread.forEach((s, u) => {
      expect(s).toBeGreaterThanOrEqual(GROUPS[u]!);
      expect(s).toBeLessThanOrEqual(GROUPS[u]! + 4 * d + 2 * zMax);
    });
    // A row group of more than 1.25 x block rows is not displaced at all: only rows of small
    // neighbours (within D of its span, at most D + the largest small group each side) mix in.
    const small = Math.max(...GROUPS.filter((z) => z <= 1.25 * BLOCK));
    const big = GROUPS.flatMap((z, u) => (z > 1.25 * BLOCK ? [u] : []));
    expect(big.length).toBeGreaterThan(10);
    for (const u of big) expect(spread[u]).toBeLessThanOrEqual(GROUPS[u]! + 2 * (d + small));
  });

  it('naive shuffles across row groups: the same measure spreads each over the epoch', async () => {
    await using ds = await open('naive');
    const plan = ds.plan();
    const spread = stretches(plan.ids, plan.shardOffsets[0]!);
    const zMax = Math.max(...GROUPS);
    const d = Math.ceil((1.25 * BLOCK) / 2);
    expect(spread.filter((s, u) => s > GROUPS[u]! + 4 * d + 2 * zMax).length).toBeGreaterThan(10);
  });
});
