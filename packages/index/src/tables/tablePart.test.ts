import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { error, tempDir } from '../../test/fixtures.js';
import { LocalByteSource } from '../localByteSource.js';
import { csvPart } from './csvTable.js';
import { jsonlPart } from './jsonTable.js';

describe('byte-range chunks of text index files', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
  });
  afterEach(() => cleanup());

  const source = new LocalByteSource({ maxHandles: 2 });
  // Ten records of one length each; `changed` rewrites every record as two records of half its
  // length, so each chunk's byte range still starts at a record but now holds twice the rows.
  const halves = (line: string, blank: string, pad: string) => {
    const a = Math.floor(line.length / 2);
    const b = line.length - a;
    return `${blank.padEnd(a - 1, pad)}\n${blank.padEnd(b - 1, pad)}\n`;
  };
  const cases = [
    {
      name: 'CSV',
      file: 'index.csv',
      header: 'url,label\n',
      record: (i: number) => `a${i}.png,${i % 3}\n`,
      half: (line: string) => halves(line, 'b', 'b'),
      open: (url: string, heldBytes = 0) =>
        csvPart(url, { source, chunkRows: 4, delimiter: ',', heldBytes }),
    },
    {
      name: 'JSONL',
      file: 'index.jsonl',
      header: '',
      record: (i: number) => `{"url":"a${i}.png","label":${i % 3}}\n`,
      half: (line: string) => halves(line, '{}', ' '),
      open: (url: string, heldBytes = 0) => jsonlPart(url, { source, chunkRows: 4, heldBytes }),
    },
  ];

  for (const c of cases) {
    it(`${c.name}: each chunk loads its own rows, and a file changed since open is refused`, async () => {
      const url = join(dir, c.file);
      const records = Array.from({ length: 10 }, (_, i) => c.record(i));
      await writeFile(url, c.header + records.join(''));
      const part = await c.open(url);
      expect(part.chunks.map((k) => k.rows)).toEqual([4, 4, 2]);
      const second = await part.chunks[1]!.load();
      expect(second.numRows).toBe(4);
      expect(second.getChild('url')?.get(0)).toBe('a4.png');
      await writeFile(url, c.header + records.map(c.half).join(''));
      const err = await error(part.chunks[1]!.load());
      expect(err.code).toBe('STREAMS_INDEX_INVALID');
      expect(err.message).toMatch(/changed since it was opened/);
      await part.close?.();
    });
  }

  for (const c of cases) {
    it(`${c.name}: chunks parsed at open are held up to heldBytes; the rest are read again`, async () => {
      const url = join(dir, `held-${c.file}`);
      const records = Array.from({ length: 12 }, (_, i) => c.record(i));
      await writeFile(url, c.header + records.join(''));
      // Room for two chunks of four rows (both of one size).
      const sized = await c.open(url, Number.POSITIVE_INFINITY);
      const chunkBytes = (await sized.chunks[0]!.load()).data.byteLength;
      await sized.close?.();
      const part = await c.open(url, 2 * chunkBytes);
      await writeFile(url, c.header + records.map((r) => r.replace('a', 'b')).join(''));
      const urls = async (k: number) => {
        const b = await part.chunks[k]!.load();
        return Array.from({ length: b.numRows }, (_, i) => b.getChild('url')?.get(i));
      };
      expect(await urls(0)).toEqual(['a0.png', 'a1.png', 'a2.png', 'a3.png']);
      expect(await urls(1)).toEqual(['a4.png', 'a5.png', 'a6.png', 'a7.png']);
      // Past the bound: read from the file as it is now.
      expect(await urls(2)).toEqual(['b8.png', 'b9.png', 'b10.png', 'b11.png']);
      await part.close?.();
    });
  }
});
