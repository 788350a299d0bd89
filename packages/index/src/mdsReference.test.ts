import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MDS_REFERENCE, type ReferenceExpected, tempDir } from '../test/fixtures.js';
import { openMdsDataset } from './mdsDataset.js';
import { MdsWriter } from './mdsWriter.js';
import { toJsonValue } from './sampleJson.js';

const PLAIN = join(MDS_REFERENCE, 'plain');
let expected: ReferenceExpected;

beforeAll(async () => {
  const all = JSON.parse(await readFile(join(MDS_REFERENCE, 'expected.json'), 'utf8'));
  expected = all.plain;
});

/** Turns an expected.json sample back into the values a JS user would hand the writer. */
function toWriterSample(s: Record<string, unknown>, columns: Record<string, string>) {
  const out: Record<string, unknown> = {};
  for (const [name, enc] of Object.entries(columns)) {
    const v = s[name];
    if (enc === 'bytes') out[name] = Buffer.from((v as { hex: string }).hex, 'hex');
    else if ((enc === 'int' || enc === 'int64' || enc === 'uint64') && typeof v === 'string')
      out[name] = BigInt(v);
    else out[name] = v;
  }
  return out;
}

describe('MosaicML reference fixture', () => {
  it('reads every sample exactly as expected.json', async () => {
    await using ds = await openMdsDataset(PLAIN);
    expect(ds.numSamples).toBe(expected.n);
    expect(ds.shards).toHaveLength(16);
    expect(Object.fromEntries(ds.columns.map((c) => [c.name, c.encoding]))).toEqual(
      expected.columns,
    );
    let i = 0;
    for await (const sample of ds.samples()) {
      expect(toJsonValue(sample)).toEqual(expected.samples[i]);
      i++;
    }
    expect(i).toBe(expected.n);
  });

  it('sampleBatches gives the same samples, arrays that never cross a shard, from any start', async () => {
    await using ds = await openMdsDataset(PLAIN);
    const batches: unknown[][] = [];
    for await (const b of ds.sampleBatches({ start: 70, end: 140 }))
      batches.push(b.map(toJsonValue));
    expect(batches.map((b) => b.length)).toEqual([2, 62, 6]);
    expect(batches.flat()).toEqual(expected.samples.slice(70, 140));
  });

  it('random access by range read matches sequential reading', async () => {
    await using ds = await openMdsDataset(PLAIN);
    for (const i of [0, 1, 71, 72, 500, 998, 999]) {
      expect(toJsonValue(await ds.get(i))).toEqual(expected.samples[i]);
    }
    expect(ds.locate(72)).toEqual({ shard: 1, index: 0 });
  });

  it('validates md5 and sha1 hashes of every shard', async () => {
    for (const algo of ['md5', 'sha1', true] as const) {
      await using ds = await openMdsDataset(PLAIN, { validateHashes: algo, shardCacheSize: 1 });
      for (let k = 0; k < ds.shards.length; k++) await ds.readShard(k);
    }
  });

  describe('writer', () => {
    let out: Awaited<ReturnType<typeof tempDir>>;
    beforeAll(async () => {
      out = await tempDir();
    });
    afterAll(() => out.cleanup());

    it('writes the same bytes as MosaicML for the same samples and options', async () => {
      const w = new MdsWriter({
        out: out.dir,
        columns: expected.columns,
        sizeLimit: 16384,
        hashes: ['md5', 'sha1'],
      });
      for (const s of expected.samples) await w.write(toWriterSample(s, expected.columns));
      await w.finish();
      const theirs = (await readdir(PLAIN)).sort();
      expect((await readdir(out.dir)).sort()).toEqual(theirs);
      for (const name of theirs) {
        const a = await readFile(join(PLAIN, name));
        const b = await readFile(join(out.dir, name));
        expect(b.equals(a), `${name} differs`).toBe(true);
      }
      expect(JSON.parse(await readFile(join(out.dir, 'index.json'), 'utf8'))).toEqual(
        JSON.parse(await readFile(join(PLAIN, 'index.json'), 'utf8')),
      );
    });
  });
});
