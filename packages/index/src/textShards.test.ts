import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { isStreamsError } from '@streams/core';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chunksOf, collect, error, tempDir } from '../test/fixtures.js';
import { parseCsv } from './csv.js';
import { openDataset } from './dataset.js';
import { jsonlRecords } from './textShards.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  tmp = await tempDir();
});
afterEach(() => tmp.cleanup());

describe('CSV parsing', () => {
  it('handles quotes, escaped quotes, embedded newlines, CRLF and a BOM, across chunk borders', async () => {
    const text = '\ufeffa,b,c\r\n1,"x, ""y""",\r\n2,"multi\nline",z\n\n3,plain,"q"\n';
    for (const size of [1, 3, 1000]) {
      const rows = await collect(parseCsv(chunksOf(new TextEncoder().encode(text), size)));
      expect(rows.map((r) => r.row)).toEqual([
        ['a', 'b', 'c'],
        ['1', 'x, "y"', ''],
        ['2', 'multi\nline', 'z'],
        ['3', 'plain', 'q'],
      ]);
      expect(rows.map((r) => r.line)).toEqual([1, 2, 3, 6]);
    }
  });

  it('an unclosed quote is STREAMS_INDEX_INVALID', async () => {
    const e = await error(collect(parseCsv(chunksOf(new TextEncoder().encode('a\n"open\n')))));
    expect(e.code).toBe('STREAMS_INDEX_INVALID');
    expect(e.message).toMatch(/line 2/);
  });

  it('fuzz: arbitrary text parses or fails with a StreamsError', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ maxLength: 200 }),
        fc.integer({ min: 1, max: 7 }),
        async (s, n) => {
          try {
            await collect(parseCsv(chunksOf(new TextEncoder().encode(s), n)));
          } catch (e) {
            if (!isStreamsError(e)) throw e;
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('CSV and JSONL shards', () => {
  it('CSV shards give typed samples; empty cells are null; TSV by extension', async () => {
    await writeFile(join(tmp.dir, 'a.csv'), 'id,score,name,ok\n1,0.5,alpha,true\n2,,"b,c",false\n');
    await writeFile(join(tmp.dir, 'b.tsv'), 'id\tname\n3\tx y\n');
    await using ds = await openDataset(join(tmp.dir, 'a.csv'));
    expect(ds.format).toBe('csv');
    expect(await collect(ds.samples())).toEqual([
      { id: 1, score: 0.5, name: 'alpha', ok: true },
      { id: 2, score: null, name: 'b,c', ok: false },
    ]);
    await using tsv = await openDataset(join(tmp.dir, 'b.tsv'));
    expect(await collect(tsv.samples())).toEqual([{ id: 3, name: 'x y' }]);
  });

  it('a ragged CSV row is STREAMS_INDEX_INVALID naming the file and line', async () => {
    await writeFile(join(tmp.dir, 'r.csv'), 'a,b\n1,2\n3\n');
    await using ds = await openDataset(join(tmp.dir, 'r.csv'));
    const e = await error(collect(ds.samples()));
    expect(e.code).toBe('STREAMS_INDEX_INVALID');
    expect(e.message).toMatch(/line 3 has 1 fields, the header has 2/);
    expect(e.message).toMatch(/r\.csv/);
  });

  it('JSONL shards, gzipped too, in a directory, with offset and limit', async () => {
    await writeFile(join(tmp.dir, '0.jsonl'), '{"i": 0}\n{"i": 1, "t": "x"}\n');
    await writeFile(join(tmp.dir, '1.jsonl.gz'), gzipSync('{"i": 2}\n\n{"i": 3}'));
    await using ds = await openDataset(tmp.dir);
    expect(ds.format).toBe('jsonl');
    expect(await collect(ds.samples())).toEqual([{ i: 0 }, { i: 1, t: 'x' }, { i: 2 }, { i: 3 }]);
    expect(await collect(ds.samples({ start: 1, end: 3 }))).toEqual([{ i: 1, t: 'x' }, { i: 2 }]);
  });

  it('JSONL and CSV shards that are not UTF-8 fail naming the line, or are replaced when asked', async () => {
    const bytes = (text: string) => Buffer.from(text.replace('#', '\u00ff'), 'latin1');
    await writeFile(join(tmp.dir, 'bad.jsonl'), bytes('{"i": 0}\n{"t": "#"}\n'));
    await writeFile(join(tmp.dir, 'bad.csv'), bytes('i,t\n0,ok\n1,#\n'));
    for (const [file, line] of [
      ['bad.jsonl', 2],
      ['bad.csv', 3],
    ] as const) {
      await using ds = await openDataset(join(tmp.dir, file));
      const e = await error(collect(ds.samples()));
      expect(e.code).toBe('STREAMS_DECODE_FAILED');
      expect(e.message).toContain(`line ${line}`);
      await using lenient = await openDataset(join(tmp.dir, file), { invalidUtf8: 'replace' });
      expect((await collect(lenient.samples())).at(-1)?.t).toBe('\ufffd');
    }
  });

  it('a JSONL line longer than maxLineBytes is STREAMS_INDEX_INVALID; the reader stops pulling', async () => {
    await writeFile(join(tmp.dir, 'long.jsonl'), `{"i": 0}\n{"t": "${'x'.repeat(5000)}"}\n`);
    await using ds = await openDataset(join(tmp.dir, 'long.jsonl'), { maxLineBytes: 1000 });
    const e = await error(collect(ds.samples()));
    expect(e.code).toBe('STREAMS_INDEX_INVALID');
    expect(e.message).toMatch(/line 2 is longer than maxLineBytes/);
    let pulled = 0;
    async function* endless() {
      const chunk = new Uint8Array(1 << 20).fill(0x78); // [1 MiB] of "x", no newline
      for (;;) {
        pulled += chunk.length;
        yield chunk;
      }
    }
    expect((await error(collect(jsonlRecords(endless(), 'endless.jsonl')))).code).toBe(
      'STREAMS_INDEX_INVALID',
    );
    expect(pulled).toBeLessThanOrEqual(65 << 20);
  });

  it('a bad JSONL line is STREAMS_INDEX_INVALID with its line number', async () => {
    await writeFile(join(tmp.dir, 'bad.jsonl'), '{"i": 0}\n{"i": \n');
    await using ds = await openDataset(join(tmp.dir, 'bad.jsonl'));
    const e = await error(collect(ds.samples()));
    expect(e.code).toBe('STREAMS_INDEX_INVALID');
    expect(e.message).toMatch(/line 2/);
  });
});
