import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { RecordBatch } from 'apache-arrow';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { error, tempDir } from '../../test/fixtures.js';
import { LocalByteSource } from '../localByteSource.js';
import { jsonlPart } from './jsonTable.js';
import { rowReader } from './rowReader.js';
import { memoryPart, type PartOptions, type TablePart } from './tablePart.js';

/** Every row of a part, and its column types by name. */
async function readAll(part: TablePart) {
  const rows: Record<string, unknown>[] = [];
  for (const c of part.chunks) {
    const b: RecordBatch = await c.load();
    const read = rowReader(b);
    for (let i = 0; i < b.numRows; i++) rows.push(read(i));
  }
  const types = Object.fromEntries(part.fields.map((f) => [f.name, String(f.type)]));
  return { rows, types };
}

/** What a JSONL table must hold: each line's JSON.parse, typed and converted as in-memory JSON rows are. */
async function reference(text: string) {
  const records = text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return readAll(memoryPart('ref.jsonl', records, 1_000_000));
}

const key = fc.constantFrom('a', 'b', 'url', 'n', 'é', 'x\\"y', '__proto__', 'k\\u0041');
/** Values as JSON text: numbers of every JSON spelling, strings with and without escapes, nested values. */
const value = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: -(2 ** 40), max: 2 ** 40 }).map(String) },
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      '0',
      '-0',
      '2147483647',
      '2147483648',
      '-2147483649',
      '9007199254740991',
      '123456789012345678',
      '1.5',
      '-0.5e3',
      '1.0',
      '1E2',
      '"\\n\\u00e9"',
      '"tab\\tq\\""',
      'true',
      'false',
      'null',
    ),
  },
  {
    weight: 2,
    arbitrary: fc
      .double({ noNaN: true, noDefaultInfinity: true })
      // Integral values past 64 bits are floats here (the in-memory rule wraps them: tested below).
      .filter((d) => !(Number.isInteger(d) && Math.abs(d) >= 2 ** 63))
      .map(String),
  },
  {
    weight: 4,
    arbitrary: fc
      .string({ unit: fc.constantFrom('a', ' ', 'ü', '日', '/', ':') })
      .map((x) => JSON.stringify(x)),
  },
  { weight: 1, arbitrary: fc.constantFrom('[1, "x"]', '{"in": {"z": null}}', '[]', '{}') },
);
const line = fc.oneof(
  { weight: 8, arbitrary: fc.array(fc.tuple(key, value), { maxLength: 5 }) },
  { weight: 1, arbitrary: fc.constantFrom('', '  ', '\t') },
);
const lineText = (l: string | [string, string][], spaced: boolean) =>
  typeof l === 'string'
    ? l
    : spaced
      ? ` { ${l.map(([k, v]) => `"${k}" : ${v}`).join(' , ')} } `
      : `{${l.map(([k, v]) => `"${k}":${v}`).join(',')}}`;

describe('JSONL tables parsed from bytes into typed columns', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  const source = new LocalByteSource({ maxHandles: 2 });
  const open = (url: string, o: Partial<PartOptions> = {}) =>
    jsonlPart(url, { source, chunkRows: 4, ...o });
  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
  });
  afterAll(async () => {
    await source.close();
    await cleanup();
  });

  it('hold what JSON.parse and the JSON type rules say, plain and gzipped, held or read again', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(line, { minLength: 1, maxLength: 14 }),
        fc.boolean(),
        fc.boolean(),
        fc.integer({ min: 1, max: 5 }),
        async (lines, spaced, crlf, chunkRows) => {
          const text = lines.map((l) => lineText(l, spaced)).join(crlf ? '\r\n' : '\n');
          const want = await reference(text);
          for (const [gz, heldBytes] of [
            [false, undefined],
            [false, 0],
            [true, undefined],
            [true, 0],
          ] as const) {
            const url = join(dir, `t${n++}.jsonl${gz ? '.gz' : ''}`);
            await writeFile(url, gz ? gzipSync(text) : text);
            const part = await open(url, { chunkRows, heldBytes });
            const got = await readAll(part);
            await part.close?.();
            expect(part.numRows).toBe(want.rows.length);
            expect(got).toEqual(want);
          }
        },
      ),
      { numRuns: 80 },
    );
  });

  it('widens a column past a chunk boundary (int, then float, then text), held or read again', async () => {
    const url = join(dir, 'widen.jsonl');
    const lines = Array.from({ length: 10 }, (_, i) => ({ i, v: i, s: i % 2 === 0 }));
    lines[6] = { i: 6, v: 6.5, s: false };
    lines[9] = { i: 9, v: 9, s: 'yes' as unknown as boolean };
    await writeFile(url, lines.map((l) => JSON.stringify(l)).join('\n'));
    for (const heldBytes of [undefined, 0]) {
      const part = await open(url, { heldBytes });
      const { rows, types } = await readAll(part);
      await part.close?.();
      expect(types).toEqual({ i: 'Int32', v: 'Float64', s: 'Utf8' });
      expect(rows.map((r) => r.v)).toEqual([0, 1, 2, 3, 4, 5, 6.5, 7, 8, 9]);
      expect(rows.map((r) => r.s)).toEqual([
        ...['true', 'false', 'true', 'false', 'true', 'false', 'false', 'false', 'true'],
        'yes',
      ]);
    }
  });

  it('a float after thousands of ints makes the column Float64 (every value counts, not a sample)', async () => {
    const url = join(dir, 'late-float.jsonl');
    const lines = Array.from({ length: 9000 }, (_, i) => `{"v":${i}}`);
    lines.push('{"v":0.25}');
    await writeFile(url, lines.join('\n'));
    const part = await open(url, { chunkRows: 4096 });
    const { rows, types } = await readAll(part);
    await part.close?.();
    expect(types).toEqual({ v: 'Float64' });
    expect(rows[8999]?.v).toBe(8999);
    expect(rows[9000]?.v).toBe(0.25);
  });

  it('a key first seen after the first chunk is a column, null in the rows before; a late big int is Int64', async () => {
    const url = join(dir, 'late.jsonl');
    const lines = Array.from({ length: 9 }, (_, i) =>
      i < 5 ? { n: i } : { n: i === 8 ? 2 ** 40 : i, late: `x${i}` },
    );
    await writeFile(url, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    for (const heldBytes of [undefined, 0]) {
      const part = await open(url, { heldBytes });
      const { rows, types } = await readAll(part);
      await part.close?.();
      expect(types).toEqual({ n: 'Int64', late: 'Utf8' });
      expect(rows.map((r) => r.late)).toEqual([
        null,
        null,
        null,
        null,
        null,
        'x5',
        'x6',
        'x7',
        'x8',
      ]);
      expect(rows[8]?.n).toBe(2 ** 40);
    }
    // An integral value past 64 bits is a float, not a wrapped Int64.
    await writeFile(url, '{"n": 1}\n{"n": 18446744073709552000}\n');
    const part = await open(url);
    const { rows, types } = await readAll(part);
    await part.close?.();
    expect(types).toEqual({ n: 'Float64' });
    expect(rows.map((r) => r.n)).toEqual([1, 2 ** 64]);
  });

  it('a bad line in the middle of a chunk is STREAMS_INDEX_INVALID naming its own line and the file', async () => {
    const url = join(dir, 'bad.jsonl');
    const lines = Array.from({ length: 3000 }, (_, i) => `{"url":"u${i}.png","k":${i}}`);
    lines[2000] = '';
    lines[2222] = '{"url":"u2222.png","k":}';
    await writeFile(url, lines.join('\n'));
    const e = await error(open(url, { chunkRows: 1000 }));
    expect(e.code).toBe('STREAMS_INDEX_INVALID');
    expect(e.message).toMatch(/line 2223 is not valid JSON/);
    expect(e.message).toContain(url);
    lines[2222] = '["u2222.png", 1]';
    await writeFile(url, lines.join('\n'));
    expect((await error(open(url, { chunkRows: 1000 }))).message).toMatch(
      /line 2223 is not a JSON object/,
    );
  });

  it('lines across read chunks keep their offsets: each chunk read again by its range holds its rows', async () => {
    const url = join(dir, 'long.jsonl');
    // About 2 MB: lines cross the reads of the stream.
    const lines = Array.from(
      { length: 20_000 },
      (_, i) => `{"url":"https://x.example/${'p'.repeat(i % 97)}/${i}.jpg","k":${i}}`,
    );
    await writeFile(url, `${lines.join('\n')}\n`);
    const part = await open(url, { chunkRows: 1500, heldBytes: 0 });
    expect(part.chunks.length).toBe(14);
    const { rows } = await readAll(part);
    await part.close?.();
    expect(rows.map((r) => r.k)).toEqual(lines.map((_, i) => i));
    expect(rows[12345]?.url).toBe(JSON.parse(lines[12345] as string).url);
  });

  it('bad UTF-8 is refused naming the line, or replaced when asked; a line past maxLineBytes is refused', async () => {
    const url = join(dir, 'utf8.jsonl');
    await writeFile(
      url,
      Buffer.concat([
        Buffer.from('{"a":"x","b":1}\n{"a":"y'),
        Buffer.from([0xff]),
        Buffer.from('","b":2}\n'),
      ]),
    );
    const e = await error(open(url));
    expect(e.code).toBe('STREAMS_DECODE_FAILED');
    expect(e.message).toMatch(/line 2/);
    const part = await open(url, { invalidUtf8: 'replace' });
    const { rows } = await readAll(part);
    await part.close?.();
    expect(rows).toEqual([
      { a: 'x', b: 1 },
      { a: 'y\ufffd', b: 2 },
    ]);
    const long = await error(open(url, { maxLineBytes: 15 }));
    expect(long.message).toMatch(/line 2 is longer than maxLineBytes/);
  });
});
