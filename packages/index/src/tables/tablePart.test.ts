import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { error, tempDir } from '../../test/fixtures.js';
import { LocalByteSource } from '../byteSource.js';
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
      open: (url: string) => csvPart(url, { source, chunkRows: 4, delimiter: ',' }),
    },
    {
      name: 'JSONL',
      file: 'index.jsonl',
      header: '',
      record: (i: number) => `{"url":"a${i}.png","label":${i % 3}}\n`,
      half: (line: string) => halves(line, '{}', ' '),
      open: (url: string) => jsonlPart(url, { source, chunkRows: 4 }),
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
});
