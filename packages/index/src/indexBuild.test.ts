import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { isStreamsError } from '@streams/core';
import { disposeDrivers } from '@streams/downloader';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from '../test/fixtures.js';
import { buildIndex } from './indexBuild.js';
import { openIndexTable } from './indexTable.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  tmp = await tempDir();
});
afterEach(() => tmp.cleanup());

async function ids(path: string): Promise<number[]> {
  await using t = await openIndexTable(path);
  const out: number[] = [];
  for await (const r of t.rows()) out.push(r.id as number);
  return out;
}

describe('buildIndex (DuckDB, offline)', () => {
  it('writes a train and a seeded validation index that partition the query rows', async () => {
    const meta = join(tmp.dir, 'meta.parquet');
    await buildIndex({
      sql: "SELECT i AS id, 'img/' || i || '.jpg' AS url, (i % 7) * 1.0 AS aes_score FROM range(2000) t(i)",
      out: meta,
    });
    const sql = `SELECT id, url, aes_score FROM read_parquet('${join(tmp.dir, '*.parquet')}') WHERE aes_score > 4`;
    const out = join(tmp.dir, 'out', 'index.parquet');
    const r = await buildIndex({ sql, out, valRatio: 0.1, maxValRows: 50, seed: 0 });
    expect(r.rows).toBe(570); // i % 7 in {5, 6}
    expect(r.valRows).toBe(50);
    expect(r.valOut).toBe(join(tmp.dir, 'out', 'index.val.parquet'));
    const train = await ids(out);
    const val = await ids(r.valOut as string);
    expect(train).toHaveLength(520);
    expect(new Set([...train, ...val]).size).toBe(570);
    expect(train).toEqual([...train].sort((a, b) => a - b)); // query order kept
    const again = await buildIndex({
      sql,
      out: join(tmp.dir, 'again.parquet'),
      valRatio: 0.1,
      maxValRows: 50,
      seed: 0,
    });
    expect(await ids(again.valOut as string)).toEqual(val);
    const other = await buildIndex({
      sql,
      out: join(tmp.dir, 'other.parquet'),
      valRatio: 0.1,
      maxValRows: 50,
      seed: 1,
    });
    expect(await ids(other.valOut as string)).not.toEqual(val);
  });

  it('fetches remote inputs named in the query through the downloader (node:http)', async () => {
    const meta = join(tmp.dir, 'meta.parquet');
    await buildIndex({ sql: 'SELECT i AS id FROM range(100) t(i)', out: meta });
    const bytes = await readFile(meta);
    const server = createServer((req, res) => {
      if (req.url !== '/meta.parquet') return res.writeHead(404).end();
      const m = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '');
      if (m) {
        const [a, b] = [Number(m[1]), Number(m[2])];
        res.writeHead(206, {
          'content-range': `bytes ${a}-${b}/${bytes.length}`,
          'content-length': b - a + 1,
        });
        return res.end(bytes.subarray(a, b + 1));
      }
      res.writeHead(200, { 'content-length': bytes.length });
      res.end(req.method === 'HEAD' ? undefined : bytes);
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/meta.parquet`;
      const r = await buildIndex({
        sql: `SELECT * FROM read_parquet('${url}') WHERE id < 10`,
        out: join(tmp.dir, 'r.csv'),
      });
      expect(r.rows).toBe(10);
      expect((await readFile(join(tmp.dir, 'r.csv'), 'utf8')).trim().split('\n')).toHaveLength(11);
    } finally {
      await disposeDrivers();
      await new Promise((ok) => server.close(ok));
    }
  });

  it('a failing query is STREAMS_INDEX_INVALID', async () => {
    try {
      await buildIndex({ sql: 'SELECT * FROM no_such_table', out: join(tmp.dir, 'x.parquet') });
      throw new Error('no error');
    } catch (e) {
      expect(isStreamsError(e, 'STREAMS_INDEX_INVALID')).toBe(true);
    }
  });
});
