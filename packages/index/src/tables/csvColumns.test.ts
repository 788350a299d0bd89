import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chunksOf, collect, error, tempDir } from '../../test/fixtures.js';
import { convertCsvCell, inferCsvType, parseCsv } from '../csv.js';
import { LocalByteSource } from '../localByteSource.js';
import { csvPart } from './csvTable.js';
import { rowReader } from './rowReader.js';

const enc = new TextEncoder();

/** What a CSV table must hold: the string rows of `parseCsv`, typed by `inferCsvType` and converted by `convertCsvCell`. */
async function referenceRows(text: string): Promise<Record<string, unknown>[]> {
  const [header, ...rows] = (await collect(parseCsv(chunksOf(enc.encode(text), 7)))).map(
    (r) => r.row,
  );
  const names = header ?? [];
  const types = names.map((_, k) => inferCsvType(rows.map((r) => r[k] ?? '')));
  return rows.map((r) =>
    Object.fromEntries(
      names.map((n, k) => {
        const v = convertCsvCell(types[k] ?? 'string', r[k] ?? '');
        return [n, types[k] === 'int' && v === 0 ? 0 : v]; // an Int64 has no -0
      }),
    ),
  );
}

const cell = fc.oneof(
  fc.constantFrom(
    '',
    '0',
    '-0',
    '+7',
    '-42',
    '007',
    '9007199254740991',
    '-9007199254740991',
    '9007199254740993',
    '12345678901234567890',
    '4294967296',
    '-4294967297',
    '2147483648',
    '1.5',
    '-.5e3',
    'inf',
    'NaN',
    'true',
    'False',
    'abc',
    'é',
    '日本',
    '',
  ),
  fc.integer({ min: -(2 ** 40), max: 2 ** 40 }).map(String),
  fc.string({ unit: fc.constantFrom('a', ',', '"', '\n', '\r', 'ü', '1') }),
);

/** A CSV text of `rows`, each cell quoted when it must be (or at random). */
function csvText(names: string[], rows: string[][], quoteAll: boolean): string {
  const q = (v: string) =>
    quoteAll || /[",\r\n]/.test(v) || v.startsWith(' ') ? `"${v.replaceAll('"', '""')}"` : v;
  return `${names.join(',')}\n${rows.map((r) => r.map(q).join(',')).join('\n')}\n`;
}

describe('CSV tables parsed from bytes into typed columns', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  const source = new LocalByteSource({ maxHandles: 2 });
  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
  });
  afterAll(async () => {
    await source.close();
    await cleanup();
  });

  it('hold what the string parser and the CSV type rules say, plain and gzipped, in any chunking', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }).chain((cols) =>
          fc.tuple(
            fc.array(fc.array(cell, { minLength: cols, maxLength: cols }), {
              minLength: 1,
              maxLength: 12,
            }),
            fc.boolean(),
            fc.integer({ min: 1, max: 5 }),
            fc.constant(cols),
          ),
        ),
        async ([rows, quoteAll, chunkRows, cols]) => {
          const names = Array.from({ length: cols }, (_, k) => `c${k}`);
          const text = csvText(names, rows, quoteAll);
          const want = await referenceRows(text);
          // Plain and gzipped, chunks held from the pass at open or parsed again when loaded.
          for (const [gz, heldBytes] of [
            [false, undefined],
            [false, 0],
            [true, undefined],
            [true, 0],
          ] as const) {
            const url = join(dir, `t${n++}.csv${gz ? '.gz' : ''}`);
            await writeFile(url, gz ? gzipSync(text) : text);
            const part = await csvPart(url, { source, chunkRows, delimiter: ',', heldBytes });
            const got: Record<string, unknown>[] = [];
            for (const c of part.chunks) {
              const b = await c.load();
              const read = rowReader(b);
              for (let i = 0; i < b.numRows; i++) got.push(read(i));
            }
            await part.close?.();
            expect(part.numRows).toBe(want.length);
            expect(got).toEqual(want);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('bad UTF-8 is refused naming the line, or replaced when asked', async () => {
    const url = join(dir, 'bad.csv');
    await writeFile(
      url,
      Buffer.concat([Buffer.from('a,b\nx,1\n'), Buffer.from([0x79, 0xff]), Buffer.from(',2\n')]),
    );
    const e = await error(csvPart(url, { source, chunkRows: 8, delimiter: ',' }));
    expect(e.code).toBe('STREAMS_DECODE_FAILED');
    expect(e.message).toMatch(/line 3/);
    const part = await csvPart(url, {
      source,
      chunkRows: 8,
      delimiter: ',',
      invalidUtf8: 'replace',
    });
    const b = await part.chunks[0]!.load();
    expect(b.getChild('a')?.get(1)).toBe('y\ufffd');
    expect(b.getChild('b')?.get(1)).toBe(2n);
    await part.close?.();
  });
});
