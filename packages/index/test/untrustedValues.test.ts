import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDataset } from '../src/dataset.js';
import { openIndexTable } from '../src/indexTable.js';
import { MdsWriter } from '../src/mdsWriter.js';
import { sampleToJsonLine, toJsonValue } from '../src/sampleJson.js';
import { collect, tempDir } from './fixtures.js';

// Values as hostile files make them: keys that are special to JavaScript objects, and nesting far
// deeper than any recursive walk survives.
let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(() => tmp.cleanup());

const own = (o: unknown) => Object.getOwnPropertyNames(o);

describe('special keys are kept', () => {
  it('in JSONL records, CSV headers, Parquet, Arrow and MDS columns, and in the printed JSON', async () => {
    await writeFile(join(tmp.dir, 'p.jsonl'), '{"__proto__":{"x":1},"a":1,"constructor":2}\n');
    await writeFile(join(tmp.dir, 'p.csv'), '__proto__,a\n7,1\n');
    {
      // An Arrow IPC file with a "__proto__" column, written from the CSV index.
      await using csv = await openIndexTable(join(tmp.dir, 'p.csv'));
      await csv.saveIpc(join(tmp.dir, 'p.arrow'));
    }
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    await c.run(
      `COPY (SELECT 7 AS "__proto__", 1 AS a) TO '${join(tmp.dir, 'p.parquet')}' (FORMAT parquet)`,
    );
    c.closeSync();
    db.closeSync();
    const mds = new MdsWriter({
      out: join(tmp.dir, 'mds'),
      columns: { ['__proto__']: 'int', a: 'int' },
    });
    await mds.write(Object.defineProperty({ a: 1 }, '__proto__', { value: 7, enumerable: true }));
    await mds.finish();

    const [jsonl] = await collect((await openDataset(join(tmp.dir, 'p.jsonl'))).samples());
    expect(own(jsonl)).toEqual(['__proto__', 'a', 'constructor']);
    expect(sampleToJsonLine(jsonl as Record<string, unknown>)).toBe(
      '{"__proto__":{"x":1},"a":1,"constructor":2}',
    );
    for (const name of ['p.csv', 'p.arrow', 'p.parquet', 'mds']) {
      await using ds = await openDataset(join(tmp.dir, name));
      const [row] = await collect(ds.samples());
      expect(own(row).sort(), name).toEqual(['__proto__', 'a']);
      expect(JSON.parse(sampleToJsonLine(row as Record<string, unknown>)), name).toEqual(
        JSON.parse('{"__proto__":7,"a":1}'),
      );
      expect(Object.getPrototypeOf(row), name).toBe(Object.prototype);
    }
    await using table = await openDataset(join(tmp.dir, 'p.csv'), { format: 'table' });
    expect(own((await collect(table.samples()))[0])).toEqual(['__proto__', 'a']);
  });
});

describe('deep nesting', () => {
  it('converts and prints 200,000 levels without a stack overflow', () => {
    const depth = 200_000;
    const text = `{"a":${'['.repeat(depth)}1${']'.repeat(depth)}}`;
    const sample = JSON.parse(text) as Record<string, unknown>;
    expect(sampleToJsonLine(sample)).toBe(text);
    let v = (toJsonValue(sample) as { a: unknown }).a;
    let levels = 0;
    while (Array.isArray(v)) {
      v = v[0];
      levels++;
    }
    expect([levels, v]).toEqual([depth, 1]);
  });
});
