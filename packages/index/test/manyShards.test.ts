import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { rng } from '@streams/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMdsDataset } from '../src/mdsDataset.js';
import { encodeMdsShard, MdsSchema } from '../src/mdsShard.js';
import { pyJsonDumps } from '../src/pyJson.js';
import { tempDir } from './fixtures.js';

// A synthetic dataset of 10,000 shards (3 samples each) written straight from the shard encoder.
const SHARDS = 10_000;
const PER = 3;
let tmp: Awaited<ReturnType<typeof tempDir>>;

beforeAll(async () => {
  tmp = await tempDir();
  const columns = [
    { name: 'id', encoding: 'int', size: 8 },
    { name: 'txt', encoding: 'str', size: null },
  ];
  const schema = new MdsSchema(columns);
  const config = new TextEncoder().encode('{}');
  const entries: unknown[] = [];
  const writes: Promise<void>[] = [];
  for (let k = 0; k < SHARDS; k++) {
    const samples = Array.from({ length: PER }, (_, j) =>
      schema.encode({ id: k * PER + j, txt: `s${k * PER + j}` }),
    );
    const bytes = encodeMdsShard(samples, config);
    const basename = `shard.${String(k).padStart(5, '0')}.mds`;
    writes.push(writeFile(join(tmp.dir, basename), bytes));
    if (writes.length >= 256) await Promise.all(writes.splice(0));
    entries.push({
      column_encodings: ['int', 'str'],
      column_names: ['id', 'txt'],
      column_sizes: [8, null],
      compression: null,
      format: 'mds',
      hashes: [],
      raw_data: { basename, bytes: bytes.length, hashes: {} },
      samples: PER,
      size_limit: null,
      version: 2,
      zip_data: null,
    });
  }
  await Promise.all(writes);
  await writeFile(
    join(tmp.dir, 'index.json'),
    pyJsonDumps({ shards: entries, version: 2 }, { sortKeys: true }),
  );
}, 120_000);
afterAll(() => tmp.cleanup());

describe('a 10,000-shard MDS dataset', () => {
  it('opens from index.json alone and locates every shard boundary', async () => {
    await using ds = await openMdsDataset(tmp.dir);
    expect(ds.numSamples).toBe(SHARDS * PER);
    expect(ds.shards).toHaveLength(SHARDS);
    for (const k of [0, 1, 4999, 9999]) {
      expect(ds.locate(k * PER)).toEqual({ shard: k, index: 0 });
      expect(ds.locate(k * PER + PER - 1)).toEqual({ shard: k, index: PER - 1 });
    }
  });

  it('random access and ordered slices return the right samples', async () => {
    await using ds = await openMdsDataset(tmp.dir);
    const r = rng(0, 'many-shards-test');
    for (let n = 0; n < 200; n++) {
      const i = r.int(SHARDS * PER);
      expect(await ds.get(i)).toEqual({ id: i, txt: `s${i}` });
    }
    const ids: unknown[] = [];
    for await (const s of ds.samples({ start: 14_998, end: 15_004 })) ids.push(s.id);
    expect(ids).toEqual([14_998, 14_999, 15_000, 15_001, 15_002, 15_003]);
  });
});
