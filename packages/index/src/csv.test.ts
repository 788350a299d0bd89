import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chunksOf, collect, error } from '../test/fixtures.js';
import { parseCsv } from './csv.js';

/**
 * The CSV rules spelled out one character at a time (the parser's specification, not its
 * algorithm): quoted fields with "" escapes, a quote inside an unquoted field kept as data, CRLF
 * or LF ending records, a lone CR kept as data, blank lines skipped, a leading BOM dropped.
 */
function referenceCsv(
  text: string,
  delim = ',',
): { row: string[]; line: number; offset: number }[] {
  const out: { row: string[]; line: number; offset: number }[] = [];
  let row: string[] = [];
  let field = '';
  let inQuotes = false;
  let quoteSeen = false;
  let line = 1;
  let rowLine = 1;
  let rowStart = 0; // character index where the record starts
  const bom = text.charCodeAt(0) === 0xfeff;
  const t = bom ? text.slice(1) : text;
  // The byte offset of a record: the UTF-8 bytes before it.
  const offsetOf = (i: number) => (bom ? 3 : 0) + enc.encode(t.slice(0, i)).length;
  const endRow = () => {
    row.push(field);
    field = '';
    if (!(row.length === 1 && row[0] === ''))
      out.push({ row, line: rowLine, offset: offsetOf(rowStart) });
    row = [];
  };
  for (let i = 0; i < t.length; i++) {
    const c = t[i] as string;
    if (inQuotes) {
      if (c === '"') {
        inQuotes = false;
        quoteSeen = true;
      } else {
        if (c === '\n') line++;
        field += c;
      }
      continue;
    }
    if (c === '"') {
      if (quoteSeen) {
        field += '"';
        inQuotes = true;
        quoteSeen = false;
      } else if (field === '') inQuotes = true;
      else field += c;
      continue;
    }
    quoteSeen = false;
    if (c === delim) {
      row.push(field);
      field = '';
    } else if (c === '\n') {
      endRow();
      line++;
      rowLine = line;
      rowStart = i + 1;
    } else if (c === '\r') {
      if (!(t[i + 1] === '\n' || i + 1 === t.length)) field += c;
    } else field += c;
  }
  if (inQuotes) throw new Error('unclosed');
  if (field !== '' || row.length > 0) endRow();
  return out;
}

const enc = new TextEncoder();

describe('CSV parser', () => {
  it('agrees with the reference on arbitrary text and record offsets, however it is cut into chunks', async () => {
    const alphabet = fc.constantFrom(...Array.from('ab,;"\r\n é€😀\t'));
    await fc.assert(
      fc.asyncProperty(
        fc.array(alphabet, { maxLength: 80 }).map((a) => a.join('')),
        fc.integer({ min: 1, max: 9 }),
        fc.constantFrom(',', ';', '\t'),
        fc.boolean(),
        async (text, size, delimiter, bom) => {
          const input = bom ? `\ufeff${text}` : text;
          let expected: { row: string[]; line: number; offset: number }[] | 'unclosed';
          try {
            expected = referenceCsv(input, delimiter);
          } catch {
            expected = 'unclosed';
          }
          const got = await collect(
            parseCsv(chunksOf(enc.encode(input), size), { delimiter }),
          ).catch((e: { code?: string }) => {
            expect(e.code).toBe('STREAMS_INDEX_INVALID');
            return 'unclosed' as const;
          });
          expect(got).toEqual(expected);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('bounds cells and records, configurably, pulling no more than the bound and a chunk', async () => {
    const big = (n: number) => `a,b\n1,${'x'.repeat(n)}\n2,3\n`;
    let e = await error(
      collect(parseCsv(chunksOf(enc.encode(big(5000)), 64), { maxCellBytes: 1000 })),
    );
    expect(e.code).toBe('STREAMS_INDEX_INVALID');
    expect(e.message).toMatch(/line 2/);
    expect(e.message).toMatch(/1000/);
    const quoted = `a\n"${'y'.repeat(5000)}"\n`;
    e = await error(collect(parseCsv(chunksOf(enc.encode(quoted), 64), { maxCellBytes: 1000 })));
    expect(e.message).toMatch(/maxCellBytes/);
    const wide = `a,b,c\n${'z'.repeat(600)},${'z'.repeat(600)},1\n`;
    e = await error(collect(parseCsv(chunksOf(enc.encode(wide), 64), { maxLineBytes: 1000 })));
    expect(e.message).toMatch(/maxLineBytes/);
    expect(
      (await collect(parseCsv(chunksOf(enc.encode(big(5000)), 64), { maxCellBytes: 5000 }))).length,
    ).toBe(3);
    // The default bound (16 MiB) holds against an endless cell: the parser stops pulling.
    let pulled = 0;
    async function* endless() {
      yield enc.encode('a\n');
      const chunk = new Uint8Array(1 << 20).fill(0x78); // [1 MiB] of "x"
      for (;;) {
        pulled += chunk.length;
        yield chunk;
      }
    }
    e = await error(collect(parseCsv(endless())));
    expect(e.code).toBe('STREAMS_INDEX_INVALID');
    expect(pulled).toBeLessThanOrEqual(17 << 20);
  });

  it('invalid UTF-8 is STREAMS_DECODE_FAILED naming the line, or replaced when asked', async () => {
    const bytes = new Uint8Array([...enc.encode('a,b\n1,x'), 0xff, 0xfe, ...enc.encode('\n')]);
    const e = await error(collect(parseCsv(chunksOf(bytes, 3), { url: 'bad.csv' })));
    expect(e.code).toBe('STREAMS_DECODE_FAILED');
    expect(e.message).toMatch(/line 2/);
    expect(e.message).toMatch(/bad\.csv/);
    const rows = await collect(parseCsv(chunksOf(bytes, 3), { invalidUtf8: 'replace' }));
    expect(rows[1]?.row).toEqual(['1', 'x\ufffd\ufffd']);
  });
});
