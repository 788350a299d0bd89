import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { rng } from '@streams/core';
import { StreamingDataset } from '@streams/multistream';
import { imageClassification } from '@streams/transforms';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { cli, jsonLines, tempDir } from './helpers.js';

async function png(seed: number): Promise<Buffer> {
  const px = new Uint8Array(8 * 8 * 3).fill(seed * 40); // [8, 8, 3]
  return sharp(px, { raw: { width: 8, height: 8, channels: 3 } })
    .png()
    .toBuffer();
}

describe('streams convert of a CSV/JSONL index', () => {
  it('fetches the URL column and stores the files, with no flag', async () => {
    await using tmp = await tempDir();
    await mkdir(join(tmp.dir, 'img'));
    const files = await Promise.all([0, 1, 2].map(png));
    for (const [i, b] of files.entries()) await writeFile(join(tmp.dir, 'img', `${i}.png`), b);
    await writeFile(
      join(tmp.dir, 'index.csv'),
      `url,label\n${files.map((_, i) => `img/${i}.png,${i}`).join('\n')}\n`,
    );
    await writeFile(
      join(tmp.dir, 'index.jsonl'),
      files.map((_, i) => JSON.stringify({ image_path: `img/${i}.png`, label: i })).join('\n'),
    );
    for (const [index, column] of [
      ['index.csv', 'url'],
      ['index.jsonl', 'image_path'],
    ] as const) {
      const out = join(tmp.dir, `${index}.mds`);
      const r = await cli(['convert', join(tmp.dir, index), out, '-q']);
      expect(r.code, r.err).toBe(0);
      expect(JSON.parse(r.out).columns).toMatchObject({ [column]: 'png' });
      const cat = await cli(['cat', out, '-q']);
      const rows = jsonLines(cat.out);
      expect(rows.map((row) => row[column])).toEqual(
        files.map((b) => ({ format: 'png', hex: b.toString('hex') })),
      );
      expect(rows.map((row) => row.label)).toEqual([0, 1, 2]);
      // The fetched column keeps its name, and the image preset finds it with no field option.
      const prep = imageClassification({ size: 4, resize: 4, dtype: 'uint8', layout: 'HWC' });
      await using ds = await StreamingDataset.open({ local: out, shuffle: false });
      const got: number[] = [];
      for await (const s of ds) {
        const x = await prep(s, rng(0));
        expect(x.image.shape).toEqual([4, 4, 3]);
        got.push(x.image.data[0]!, x.label!);
      }
      expect(got).toEqual([0, 0, 40, 1, 80, 2]);
    }
    // Asked for as plain text shards, the cells stay text.
    const text = join(tmp.dir, 'text.mds');
    const r = await cli([
      'convert',
      join(tmp.dir, 'index.csv'),
      text,
      '--source-format',
      'csv',
      '-q',
    ]);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out).columns).toMatchObject({ url: 'str' });
  }, 60_000);
});
