import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { isStreamsError } from '@streams/core';
import { linesFormat } from '@streams/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openDataset } from '../src/dataset.js';
import type { Sample } from '../src/formats/format.js';
import { getFormat, listFormats, registerFormat } from '../src/formats/registry.js';
import { MdsWriter } from '../src/mdsWriter.js';
import { RoutingByteSource } from '../src/routingByteSource.js';
import { WdsWriter } from '../src/wdsWriter.js';
import { testFormat } from './formatSuite.js';

const enc = new TextEncoder();

async function duck(sql: string): Promise<void> {
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  await c.run(sql);
  c.closeSync();
  db.closeSync();
}

testFormat({
  format: 'mds',
  async write(dir) {
    const expected: Sample[] = [];
    const w = new MdsWriter({
      out: join(dir, 'mds'),
      columns: { id: 'int', text: 'str', blob: 'bytes' },
      sizeLimit: 200,
      compression: 'zstd',
      hashes: ['sha1'],
    });
    for (let i = 0; i < 12; i++) {
      const s = { id: i, text: `sample ${i}`, blob: enc.encode(`blob-${i}`) };
      await w.write(s);
      expected.push(s);
    }
    await w.finish();
    return { path: 'mds', expected };
  },
});

testFormat({
  format: 'wds',
  async write(dir) {
    const expected: Sample[] = [];
    const w = new WdsWriter({ out: join(dir, 'wds'), maxShardSamples: 4 });
    for (let i = 0; i < 10; i++) {
      const key = `s${String(i).padStart(4, '0')}`;
      await w.write({ __key__: key, jpg: enc.encode(`JPEG${i}`), cls: i % 3, json: { i } });
      expected.push({ __key__: key, jpg: enc.encode(`JPEG${i}`), cls: i % 3, json: { i } });
    }
    await w.finish();
    return { path: 'wds/shard-{000000..000002}.tar', expected };
  },
});

// The same tars opened from the wids shard index the writer puts next to them: counts from the
// index, nothing counted (test/wids.test.ts checks no tar byte is read at open).
testFormat({
  format: 'wids',
  async write(dir) {
    const expected: Sample[] = [];
    const w = new WdsWriter({ out: join(dir, 'wids'), maxShardSamples: 4 });
    for (let i = 0; i < 10; i++) {
      const key = `s${String(i).padStart(4, '0')}`;
      await w.write({ __key__: key, jpg: enc.encode(`JPEG${i}`), cls: i % 3, json: { i } });
      expected.push({ __key__: key, jpg: enc.encode(`JPEG${i}`), cls: i % 3, json: { i } });
    }
    await w.finish();
    return { path: 'wids/shardindex.json', expected };
  },
});

testFormat({
  format: 'jsonl',
  async write(dir) {
    await mkdir(join(dir, 'jsonl'));
    const expected: Sample[] = [];
    for (const f of ['a', 'b']) {
      const rows = [0, 1, 2].map((i) => ({ file: f, i, tags: [f, i] }));
      await writeFile(
        join(dir, 'jsonl', `${f}.jsonl`),
        rows.map((r) => JSON.stringify(r)).join('\n'),
      );
      expected.push(...rows);
    }
    return { path: 'jsonl', expected };
  },
});

testFormat({
  format: 'csv',
  async write(dir) {
    await mkdir(join(dir, 'csv'));
    await writeFile(join(dir, 'csv', 'a.csv'), 'name,n,score\nx,1,0.5\ny,2,1.5\n');
    await writeFile(join(dir, 'csv', 'b.csv'), 'name,n,score\n"z, quoted",3,2.5\n');
    return {
      path: 'csv',
      expected: [
        { name: 'x', n: 1, score: 0.5 },
        { name: 'y', n: 2, score: 1.5 },
        { name: 'z, quoted', n: 3, score: 2.5 },
      ],
    };
  },
});

testFormat({
  format: 'table',
  async write(dir) {
    await mkdir(join(dir, 'table'));
    for (const [f, from] of [
      ['a', 0],
      ['b', 3],
    ] as const)
      await duck(
        `COPY (SELECT i AS id, 'caption ' || i AS caption, i % 2 AS label FROM range(${from}, ${from + 3}) t(i)) TO '${join(dir, 'table', `${f}.parquet`)}' (FORMAT parquet)`,
      );
    return {
      path: 'table',
      expected: [0, 1, 2, 3, 4, 5].map((i) => ({ id: i, caption: `caption ${i}`, label: i % 2 })),
    };
  },
  extraTests(ctx) {
    it('a row fetches the files its URL columns name, checked against its size and hash columns', async () => {
      const { dir } = ctx();
      await mkdir(join(dir, 'rows'), { recursive: true });
      const files = ['0.bin', '1.bin', '2.bin'];
      for (const [i, f] of files.entries())
        await writeFile(join(dir, 'rows', f), enc.encode(`payload ${i}`));
      const { createHash } = await import('node:crypto');
      const sha = (s: string) => createHash('sha256').update(s).digest('hex');
      await writeFile(
        join(dir, 'rows', 'index.csv'),
        `url,size,sha256\n0.bin,9,${sha('payload 0')}\n1.bin,99,${sha('payload 1')}\n2.bin,9,${sha('wrong')}\n`,
      );
      const source = new RoutingByteSource();
      const fd = await getFormat('table').open(join(dir, 'rows', 'index.csv'), { source });
      try {
        expect(fd.fetchesSamples).toBe(true);
        const u = await fd.load(0);
        const ok = await u.fetchSample?.(0);
        expect(new TextDecoder().decode(ok?.decode(0).url as Uint8Array)).toBe('payload 0');
        const codes = await Promise.all(
          [1, 2].map((j) =>
            u.fetchSample?.(j).then(
              () => 'ok',
              (e: unknown) => (isStreamsError(e) ? e.code : String(e)),
            ),
          ),
        );
        expect(codes).toEqual(['STREAMS_SIZE_MISMATCH', 'STREAMS_HASH_MISMATCH']);
      } finally {
        await fd.close();
        await source.close();
      }
    });
  },
});

let unregister: () => void;
beforeAll(() => {
  unregister = registerFormat(linesFormat);
});
afterAll(() => unregister());

testFormat({
  format: 'lines',
  async write(dir) {
    await mkdir(join(dir, 'lines'));
    await writeFile(join(dir, 'lines', 'a.lines'), 'alpha\nbeta\n');
    await writeFile(join(dir, 'lines', 'b.lines'), 'gamma\n');
    return {
      path: 'lines',
      expected: [
        { __key__: 'a.lines:0', text: 'alpha', index: 0 },
        { __key__: 'a.lines:1', text: 'beta', index: 1 },
        { __key__: 'b.lines:0', text: 'gamma', index: 0 },
      ],
    };
  },
});

it('a registered format is listed, opened by openDataset, and gone once unregistered', async () => {
  const names = listFormats().map((f) => f.name);
  expect(names.slice(0, 5)).toEqual(['mds', 'wds', 'jsonl', 'csv', 'table']);
  expect(names).toContain('lines');
  const off = registerFormat({ ...linesFormat, name: 'lines2' });
  expect(getFormat('lines2').description).toBe(linesFormat.description);
  off();
  expect(() => getFormat('lines2')).toThrow(/unknown format "lines2".*Fix: use one of mds, wds/);
  const e = await openDataset('x', { format: 'nope' }).catch((err: unknown) => err);
  expect(isStreamsError(e, 'STREAMS_INVALID_CONFIG')).toBe(true);
});

it('an existing file no format reads is named for what it is, with the formats accepted', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'streams-notds-'));
  try {
    await writeFile(join(dir, 'photo.dat'), new Uint8Array([0x89, 0x50, 0x4e, 0x47, 13, 10]));
    await writeFile(join(dir, 'notes.xyz'), 'hello');
    for (const [file, kind] of [
      ['photo.dat', 'a PNG image'],
      ['notes.xyz', 'a .xyz file'],
    ] as const) {
      const e = await openDataset(join(dir, file)).catch((err: unknown) => err);
      expect(isStreamsError(e, 'STREAMS_INVALID_CONFIG')).toBe(true);
      expect((e as Error).message).toContain(`${file} is ${kind}, not a dataset`);
      expect((e as Error).message).toMatch(
        /Fix: point at a dataset of a format read here: mds .*table/,
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
