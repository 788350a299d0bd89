import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { isStreamsError } from '@streams/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collect, error, tempDir } from '../test/fixtures.js';
import { openIndexTable } from './indexTable.js';
import { compileFilter } from './rowFilter.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  tmp = await tempDir();
});
afterEach(() => tmp.cleanup());

async function duck(sql: string): Promise<void> {
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  await c.run(sql);
  c.closeSync();
  db.closeSync();
}

describe('index tables', () => {
  it('CSV: typed columns, URL columns resolved against the index location, metadata columns', async () => {
    await mkdir(join(tmp.dir, 'meta'));
    await writeFile(
      join(tmp.dir, 'meta', 'index.csv'),
      'url,label,score,size\nimg/0.jpg,3,0.5,100\nhttps://x.test/1.jpg,4,,200\n/abs/2.jpg,3,1.5,300\n',
    );
    await using t = await openIndexTable(join(tmp.dir, 'meta', 'index.csv'));
    expect(t.numRows).toBe(3);
    expect(t.urlColumns).toEqual(['url']);
    expect(t.metadataColumns).toEqual(['label', 'score', 'size']);
    expect(t.sizeColumn).toBe('size');
    const rows = await collect(t.rows());
    expect(rows[0]).toEqual({
      url: join(tmp.dir, 'meta', 'img/0.jpg'),
      label: 3,
      score: 0.5,
      size: 100,
    });
    expect(rows[1]).toEqual({ url: 'https://x.test/1.jpg', label: 4, score: null, size: 200 });
    expect(rows[2]?.url).toBe('/abs/2.jpg');
    expect(t.schema.fields.map((f) => String(f.type))).toEqual([
      'Utf8',
      'Int64',
      'Float64',
      'Int64',
    ]);
  });

  it('JSONL wildcard: union of columns, missing fields are null; a type mismatch names file and column', async () => {
    await writeFile(
      join(tmp.dir, 'a.jsonl'),
      '{"path": "x.bin", "k": 1}\n{"path": "y.bin", "k": 2, "extra": "e"}\n',
    );
    await writeFile(join(tmp.dir, 'b.jsonl'), '{"path": "z.bin", "k": 3}\n');
    await using t = await openIndexTable(join(tmp.dir, '*.jsonl'));
    expect(t.files).toHaveLength(2);
    // A directory holding only index files of one format is that multi-file index, not a scan.
    await using d = await openIndexTable(tmp.dir);
    expect(d.numRows).toBe(3);
    const rows = await collect(t.rows());
    expect(rows.map((r) => [r.k, r.extra])).toEqual([
      [1, null],
      [2, 'e'],
      [3, null],
    ]);
    await writeFile(join(tmp.dir, 'c.jsonl'), '{"path": "w.bin", "k": "three"}\n');
    const e = await error(openIndexTable(join(tmp.dir, '*.jsonl')));
    expect(e.code).toBe('STREAMS_SCHEMA_MISMATCH');
    expect(e.message).toMatch(/column "k" is Utf8 in c\.jsonl but Int\d+ in a\.jsonl/);
  });

  it('Parquet (written by DuckDB): lazy row groups, filters by expression and predicate', async () => {
    const file = join(tmp.dir, 'm.parquet');
    await duck(
      `COPY (SELECT i AS id, 'img/' || i || '.jpg' AS url, i % 10 AS label, i / 100.0 AS aes_score FROM range(5000) t(i)) TO '${file}' (FORMAT parquet, ROW_GROUP_SIZE 2048)`,
    );
    await using t = await openIndexTable(file);
    expect(t.numRows).toBe(5000);
    let batches = 0;
    for await (const b of t.batches()) {
      expect(b.numRows).toBeLessThanOrEqual(2048);
      batches++;
    }
    expect(batches).toBeGreaterThanOrEqual(3);
    const some = await collect(t.rows({ start: 1234, end: 1236 }));
    expect(some.map((r) => r.id)).toEqual([1234, 1235]);
    expect(some[0]?.url).toBe(join(tmp.dir, 'img/1234.jpg'));
    await using f = await openIndexTable(file, { filter: 'label == 3 and aes_score > 40' });
    expect(f.numRows).toBe(100);
    await using g = await openIndexTable(file, {
      filter: (r) => (r.id as number) < 7,
      urlColumns: [],
    });
    expect((await collect(g.rows())).map((r) => r.url)).toContain('img/0.jpg'); // metadata-only: not resolved
  });

  it('Arrow IPC round trip and a node-local copy reused by later opens', async () => {
    await writeFile(join(tmp.dir, 'i.csv'), 'file,y\na.png,1\nb.png,2\n');
    await using t = await openIndexTable(join(tmp.dir, 'i.csv'));
    await t.saveIpc(join(tmp.dir, 'i.arrow'));
    await using a = await openIndexTable(join(tmp.dir, 'i.arrow'));
    expect(a.numRows).toBe(2);
    expect((await collect(a.rows())).map((r) => r.y)).toEqual([1, 2]);
    const cache = join(tmp.dir, 'cache');
    await using c1 = await openIndexTable(join(tmp.dir, 'i.csv'), { localCopy: cache });
    expect(c1.servedFrom).toBe('source');
    await using c2 = await openIndexTable(join(tmp.dir, 'i.csv'), { localCopy: cache });
    expect(c2.servedFrom).toBe('localCopy');
    expect(await collect(c2.rows())).toEqual(await collect(c1.rows()));
  });

  it('directory scans group files by basename; list files give a url column', async () => {
    const d = join(tmp.dir, 'data');
    await mkdir(join(d, 'sub'), { recursive: true });
    for (const [n, v] of [
      ['000001.jpg', 'j'],
      ['000001.cls', '1'],
      ['000002.jpg', 'j'],
      ['sub/000003.jpg', 'j'],
      ['sub/000003.json', '{}'],
    ] as const)
      await writeFile(join(d, n), v);
    await using t = await openIndexTable(d);
    const rows = await collect(t.rows());
    expect(rows.map((r) => r.__key__)).toEqual(['000001', '000002', 'sub/000003']);
    expect(rows[0]).toEqual({
      __key__: '000001',
      jpg: join(d, '000001.jpg'),
      cls: join(d, '000001.cls'),
      json: null,
    });
    expect(t.urlColumns).toEqual(['cls', 'jpg', 'json']);
    const { pathToFileURL } = await import('node:url');
    await using u = await openIndexTable(pathToFileURL(d).toString());
    const urows = await collect(u.rows());
    expect(urows.map((r) => r.__key__)).toEqual(['000001', '000002', 'sub/000003']);
    expect(urows[2]?.json).toBe(pathToFileURL(join(d, 'sub/000003.json')).toString());
    await writeFile(join(tmp.dir, 'list.txt'), '# files\ndata/000001.jpg\nhttps://x.test/b.jpg\n');
    await using l = await openIndexTable(join(tmp.dir, 'list.txt'));
    expect((await collect(l.rows())).map((r) => r.url)).toEqual([
      join(tmp.dir, 'data/000001.jpg'),
      'https://x.test/b.jpg',
    ]);
  });

  it('bad inputs get clear codes: bad Parquet, ragged CSV, missing file, unknown column', async () => {
    await writeFile(join(tmp.dir, 'bad.parquet'), 'PAR1 this is not parquet PAR1');
    expect((await error(openIndexTable(join(tmp.dir, 'bad.parquet')))).code).toBe(
      'STREAMS_INDEX_INVALID',
    );
    await writeFile(join(tmp.dir, 'r.csv'), 'a,b\n1,2\n3,4,5\n');
    const e = await error(openIndexTable(join(tmp.dir, 'r.csv')));
    expect(e.code).toBe('STREAMS_INDEX_INVALID');
    expect(e.message).toMatch(/r\.csv line 3 has 3 fields/);
    expect((await error(openIndexTable(join(tmp.dir, 'missing.csv')))).code).toBe(
      'STREAMS_NOT_FOUND',
    );
    await writeFile(join(tmp.dir, 'ok.csv'), 'a\n1\n');
    expect(
      (await error(openIndexTable(join(tmp.dir, 'ok.csv'), { urlColumns: ['nope'] }))).code,
    ).toBe('STREAMS_INDEX_INVALID');
    expect((await error(openIndexTable(join(tmp.dir, 'ok.csv'), { filter: 'a ==' }))).code).toBe(
      'STREAMS_INVALID_ARGUMENT',
    );
  });
});

describe('fuzzing index readers', () => {
  /** The bytes of a small Parquet file written by DuckDB (50 rows: id, s). */
  async function smallParquet(): Promise<Uint8Array> {
    const good = join(tmp.dir, 'good.parquet');
    await duck(
      `COPY (SELECT i AS id, 'x' || i AS s FROM range(50) t(i)) TO '${good}' (FORMAT parquet)`,
    );
    return new Uint8Array(await (await import('node:fs/promises')).readFile(good));
  }

  /** Reads every row of the table at `f`: true, or false when it fails with a StreamsError (anything else throws). */
  async function readsOrFailsClean(f: string): Promise<boolean> {
    try {
      await using t = await openIndexTable(f);
      await collect(t.rows());
      return true;
    } catch (e) {
      if (!isStreamsError(e)) throw e;
      return false;
    }
  }

  it('random and truncated Parquet / Arrow bytes only ever raise StreamsErrors', async () => {
    const fc = (await import('fast-check')).default;
    const parquet = await smallParquet();
    let n = 0;
    // A seed that once found a footer with a negative row count (regression), then fresh randomness.
    for (const seed of [-101577076, undefined])
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.uint8Array({ maxLength: 600 }),
            fc.nat(parquet.length).map((cut) => parquet.subarray(0, cut)),
            fc
              .tuple(fc.nat(parquet.length - 1), fc.integer({ min: 0, max: 255 }))
              .map(([at, v]) => {
                const c = parquet.slice();
                c[at] = v;
                return c;
              }),
          ),
          fc.constantFrom('parquet', 'arrow'),
          async (bytes, ext) => {
            const f = join(tmp.dir, `f${n++}.${ext}`);
            await writeFile(f, bytes);
            await readsOrFailsClean(f);
          },
        ),
        seed === undefined ? { numRuns: 150 } : { numRuns: 150, seed },
      );
  });

  it('a Parquet footer with any one byte zeroed fails as a StreamsError, never as an unhandled rejection', async () => {
    const parquet = await smallParquet();
    // The footer: its length sits in the 4 bytes before the closing magic.
    const footer = new DataView(parquet.buffer).getUint32(parquet.length - 8, true);
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    let damaged = 0;
    try {
      for (let at = parquet.length - 8 - footer; at < parquet.length - 8; at++) {
        if (parquet[at] === 0) continue;
        const bytes = parquet.slice();
        bytes[at] = 0;
        const f = join(tmp.dir, `zeroed${at}.parquet`);
        await writeFile(f, bytes);
        if (!(await readsOrFailsClean(f))) damaged++;
      }
      // Rejections nobody handled are reported after the microtasks of their turn.
      await new Promise((r) => setTimeout(r, 20));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
    expect(damaged).toBeGreaterThan(0);
  });
});

describe('filter expressions', () => {
  it('evaluates comparisons, and/or/not, parentheses and literals', () => {
    const f = compileFilter('(label == 3 or label = 4) and not split == "val" && score >= -0.5');
    expect(f({ label: 3, split: 'train', score: 0 })).toBe(true);
    expect(f({ label: 4, split: 'val', score: 0 })).toBe(false);
    expect(f({ label: 5, split: 'train', score: 0 })).toBe(false);
    expect(f({ label: 3, split: 'train', score: -1 })).toBe(false);
    expect(compileFilter('x != null')({ x: null })).toBe(false);
    expect(compileFilter('`my col` > 2')({ 'my col': 3n })).toBe(true);
  });
});
