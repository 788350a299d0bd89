import { join } from 'node:path';
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
});
