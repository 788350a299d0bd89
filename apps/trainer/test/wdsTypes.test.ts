import { join } from 'node:path';
import { MdsWriter, openDataset } from '@streams/index';
import { describe, expect, it } from 'vitest';
import { cli, expected, jsonLines, PLAIN, tempDir } from './helpers.js';

describe('MDS -> WebDataset -> streams cat', () => {
  it('keeps the types: members are named by the WebDataset conventions (.txt, .json, ...)', async () => {
    await using tmp = await tempDir();
    const wds = join(tmp.dir, 'wds');
    const converted = await cli(['convert', PLAIN, wds, '--format', 'wds', '-q']);
    expect(converted.code, converted.err).toBe(0);
    const cat = await cli(['cat', wds, '--limit', '50', '-q']);
    expect(cat.code, cat.err).toBe(0);
    const got = jsonLines(cat.out);
    const want = (await expected()).slice(0, 50);
    expect(got.map((s) => s['name.txt'])).toEqual(want.map((s) => s.name));
    expect(got.map((s) => s['label.json'])).toEqual(want.map((s) => s.label));
    expect(got.map((s) => s['score.json'])).toEqual(want.map((s) => s.score));
    expect(got.map((s) => s['meta.json'])).toEqual(want.map((s) => s.meta));
    expect(got.map((s) => s.id)).toEqual(want.map((s) => s.id)); // `id` is a WebDataset extension
    expect(got.map((s) => s.blob)).toEqual(want.map((s) => s.blob)); // raw bytes stay bytes
  }, 60_000);

  it('keeps ndarray columns as .npy: dtype, shape and values through convert, cat and openDataset', async () => {
    await using tmp = await tempDir();
    const mds = join(tmp.dir, 'mds');
    const wds = join(tmp.dir, 'wds');
    const w = new MdsWriter({ out: mds, columns: { emb: 'ndarray:float32:2,3', ids: 'ndarray' } });
    const rows = Array.from({ length: 4 }, (_, i) => ({
      emb: {
        dtype: 'float32',
        shape: [2, 3],
        data: Float32Array.from({ length: 6 }, (_, j) => i - j / 4),
      }, // [2, 3]
      ids: {
        dtype: 'int16',
        shape: [i + 1],
        data: Int16Array.from({ length: i + 1 }, (_, j) => j - i),
      }, // [i + 1]
    }));
    for (const r of rows) await w.write(r);
    await w.finish();
    const converted = await cli(['convert', mds, wds, '--format', 'wds', '-q']);
    expect(converted.code, converted.err).toBe(0);
    const cat = await cli(['cat', wds, '-q']);
    expect(cat.code, cat.err).toBe(0);
    const plain = (a: { dtype: string; shape: number[]; data: ArrayLike<number> }) => ({
      dtype: a.dtype,
      shape: a.shape,
      data: Array.from(a.data),
    });
    const got = jsonLines(cat.out);
    expect(got.map((s) => s['emb.npy'])).toEqual(rows.map((r) => plain(r.emb)));
    expect(got.map((s) => s['ids.npy'])).toEqual(rows.map((r) => plain(r.ids)));
    await using ds = await openDataset(wds);
    let n = 0;
    for await (const s of ds.samples()) {
      n++;
      const i = Number(s.__key__);
      expect(s['emb.npy']).toEqual(rows[i]?.emb);
      expect(s['ids.npy']).toEqual(rows[i]?.ids);
      expect((s['ids.npy'] as { data: unknown }).data).toBeInstanceOf(Int16Array);
    }
    expect(n).toBe(rows.length);
  }, 60_000);
});
