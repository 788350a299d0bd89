import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collect, MDS_REFERENCE, tempDir } from '../test/fixtures.js';
import { openDataset } from './dataset.js';
import { convertDataset, inferMdsEncoding } from './datasetConvert.js';
import { openMdsDataset } from './mdsDataset.js';
import { toJsonValue } from './sampleJson.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  tmp = await tempDir();
});
afterEach(() => tmp.cleanup());

describe('convertDataset', () => {
  it('MDS -> MDS with zstd and hashes keeps every sample; MDS -> WebDataset keeps the keys and bytes', async () => {
    const plain = join(MDS_REFERENCE, 'plain');
    const progress: number[] = [];
    const { EventHub } = await import('@streams/core');
    const events = new EventHub('index');
    const names = new Set<string>();
    events.on((e) => names.add(e.name));
    const r = await convertDataset(plain, {
      out: join(tmp.dir, 'z'),
      format: 'mds',
      compression: 'zstd',
      hashes: ['sha1', 'xxh64'],
      sizeLimit: '64kb',
      encodings: {
        blob: 'bytes',
        meta: 'json',
        label: 'int32',
        u8: 'uint8',
        f32: 'float32',
        i64: 'int64',
      },
      onProgress: (p) => progress.push(p.samples),
      events,
    });
    expect([...names].sort()).toEqual(['convert.progress', 'mds.shard']);
    expect(r.samples).toBe(1000);
    expect(progress.at(-1)).toBe(1000);
    await using a = await openMdsDataset(plain);
    await using b = await openMdsDataset(join(tmp.dir, 'z'), { validateHashes: 'xxh64' });
    expect(b.shards[0]?.compression).toBe('zstd');
    expect(b.columns.find((c) => c.name === 'score')?.encoding).toBe('float64');
    const x = (await collect(a.samples())).map(toJsonValue);
    expect((await collect(b.samples())).map(toJsonValue)).toEqual(x);

    const w = await convertDataset(plain, {
      out: join(tmp.dir, 'w'),
      format: 'wds',
      sizeLimit: '100kb',
      compression: 'gz',
    });
    expect(w.shards).toBeGreaterThan(1);
    await using wds = await openDataset(join(tmp.dir, 'w'));
    // The writer's wids shard index: the converted tars reopen counted by it, not by reading them.
    expect(wds.format).toBe('wids');
    expect(wds.numSamples).toBe(1000);
    expect(wds.numShards).toBe(w.shards);
    const first = (await collect(wds.samples({ end: 1 })))[0] as Record<string, unknown>;
    // Members are named by the WebDataset conventions, so values come back with their types.
    const x0 = x[0] as Record<string, unknown>;
    expect(first['name.txt']).toBe('sample-00000-é✓');
    expect(first['label.json']).toBe(x0.label);
    expect(first['meta.json']).toEqual(x0.meta);
    const some = (await collect(wds.samples({ end: 40 }))) as Record<string, unknown>[];
    expect(some.map((s) => s['score.json'])).toEqual(
      x.slice(0, 40).map((s) => (s as Record<string, unknown>).score),
    );
    expect(first.__key__).toBe('000000000');
  });

  it('MDS -> MDS keeps the source encodings: the MosaicML fixture converts to the same bytes', async () => {
    const plain = join(MDS_REFERENCE, 'plain');
    const r = await convertDataset(plain, {
      out: join(tmp.dir, 'same'),
      format: 'mds',
      hashes: ['md5', 'sha1'],
      sizeLimit: '16kb',
    });
    await using a = await openMdsDataset(plain);
    expect(r.columns).toEqual(Object.fromEntries(a.columns.map((c) => [c.name, c.encoding])));
    const index = JSON.parse(await readFile(join(plain, 'index.json'), 'utf8')) as {
      shards: Array<{ raw_data: { basename: string } }>;
    };
    expect(r.shards).toBe(index.shards.length);
    for (const shard of index.shards) {
      const name = shard.raw_data.basename;
      expect(
        Buffer.compare(
          await readFile(join(tmp.dir, 'same', name)),
          await readFile(join(plain, name)),
        ),
        name,
      ).toBe(0);
    }
    expect(JSON.parse(await readFile(join(tmp.dir, 'same', 'index.json'), 'utf8'))).toEqual(index);
  });

  it('an index table with URL columns becomes shards holding the fetched bytes', async () => {
    const d = join(tmp.dir, 'files');
    await mkdir(d);
    for (let i = 0; i < 5; i++) {
      await writeFile(join(d, `${i}.jpg`), `JPEG${i}`);
      await writeFile(join(d, `${i}.cls`), String(i % 2));
    }
    await writeFile(
      join(tmp.dir, 'index.csv'),
      `path,label\n${[0, 1, 2, 3, 4].map((i) => `files/${i}.jpg,${i % 2}`).join('\n')}\n`,
    );
    const r = await convertDataset(join(tmp.dir, 'index.csv'), {
      out: join(tmp.dir, 'm'),
      format: 'mds',
      open: { format: 'table' },
    });
    expect(r.columns).toEqual({ path: 'jpeg', label: 'int' });
    await using m = await openMdsDataset(join(tmp.dir, 'm'));
    const s = await m.get(3);
    expect(new TextDecoder().decode((s.path as { bytes: Uint8Array }).bytes)).toBe('JPEG3');
    expect(s.label).toBe(1);
    // A directory scan: one sample per basename, both files embedded.
    const r2 = await convertDataset(d, { out: join(tmp.dir, 'n'), format: 'mds' });
    expect(r2.samples).toBe(5);
    await using n = await openMdsDataset(join(tmp.dir, 'n'));
    expect(new TextDecoder().decode((await n.get(4)).cls as Uint8Array)).toBe('0');
  });

  it('WebDataset -> MDS: images keep an image encoding, cls stays an integer, __url__ is dropped', async () => {
    const { makeTar } = await import('../test/fixtures.js');
    await writeFile(
      join(tmp.dir, 'w.tar'),
      makeTar([
        { name: 'a/0.jpg', data: 'J0' },
        { name: 'a/0.cls', data: '4' },
        { name: 'a/1.jpg', data: 'J1' },
        { name: 'a/1.cls', data: '2' },
      ]),
    );
    const r = await convertDataset(join(tmp.dir, 'w.tar'), {
      out: join(tmp.dir, 'm'),
      format: 'mds',
    });
    expect(r.columns).toEqual({ __key__: 'str', jpg: 'jpeg', cls: 'int' });
    await using m = await openMdsDataset(join(tmp.dir, 'm'));
    const s = await m.get(1);
    expect(s.__key__).toBe('a/1');
    expect(s.cls).toBe(2);
    expect(new TextDecoder().decode((s.jpg as { bytes: Uint8Array }).bytes)).toBe('J1');
  });

  it('infers encodings that round-trip, storing nullable columns as JSON', () => {
    expect(inferMdsEncoding([1, 2, null], 'a')).toBe('json');
    expect(inferMdsEncoding([1, 2.5], 'a')).toBe('float64');
    expect(inferMdsEncoding(['x'], 'a')).toBe('str');
    expect(inferMdsEncoding([{ a: 1 }], 'a')).toBe('json');
    expect(inferMdsEncoding([new Uint8Array(1)], 'a')).toBe('bytes');
    expect(() => inferMdsEncoding([new Uint8Array(1), null], 'img')).toThrow(/column "img"/);
  });

  it('writes WebDataset members with pax long names readable back', async () => {
    const long = 'k'.repeat(150);
    await writeFile(
      join(tmp.dir, 'x.jsonl'),
      `${JSON.stringify({ __key__: long, txt: 'hello', cls: 3 })}\n`,
    );
    await convertDataset(join(tmp.dir, 'x.jsonl'), { out: join(tmp.dir, 'o'), format: 'wds' });
    await using ds = await openDataset(join(tmp.dir, 'o', 'shard-000000.tar'));
    expect(await collect(ds.samples())).toEqual([
      { __key__: long, __url__: join(tmp.dir, 'o', 'shard-000000.tar'), txt: 'hello', cls: 3 },
    ]);
    expect((await readFile(join(tmp.dir, 'o', 'shard-000000.tar'))).length % 512).toBe(0);
  });
});
