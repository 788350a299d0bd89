import { isStreamsError } from '@streams/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { makeTar, type TarEntry } from '../test/fixtures.js';
import { readTarBytes } from './tarReader.js';
import { indexFits, indexTarBytes, indexTarRanges } from './wdsTarWalk.js';
import { WdsWriter } from './wdsWriter.js';
import { type WebDatasetOptions, wdsGroupsOf, wdsSampleOf } from './webDataset.js';

const URL = 'x.tar';

/** Each sample as [field, type, value] rows (bytes as hex), or the error code of its decode. */
function shape(s: Record<string, unknown>): unknown[] {
  return Object.entries(s).map(([k, v]) => [
    k,
    v?.constructor?.name ?? typeof v,
    v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v,
  ]);
}

function outcome(fn: () => Record<string, unknown>): unknown {
  try {
    return shape(fn());
  } catch (e) {
    if (!isStreamsError(e)) throw e;
    return e.code;
  }
}

/** The samples as the tar reader and `wdsSampleOf` give them (before the index), or the error code. */
function reference(bytes: Uint8Array, options: WebDatasetOptions = {}): unknown {
  try {
    const groups = [...wdsGroupsOf(readTarBytes(bytes, { url: URL }), URL)];
    return groups.map((g) => outcome(() => wdsSampleOf(g, URL, options)));
  } catch (e) {
    if (!isStreamsError(e)) throw e;
    return e.code;
  }
}

/** The samples from the index of the tar in memory, or read through ranges. */
function indexed(bytes: Uint8Array, ranges: boolean, options: WebDatasetOptions = {}): unknown {
  try {
    const index = ranges
      ? indexTarRanges((a, b) => bytes.slice(a, b), bytes.length, URL)
      : indexTarBytes(bytes, URL);
    return Array.from({ length: index.samples }, (_, j) =>
      outcome(() => index.sample(j, bytes, URL, options)),
    );
  } catch (e) {
    if (!isStreamsError(e)) throw e;
    return e.code;
  }
}

/** A pax header record setting `path` (its length counts itself). */
function paxPath(name: string): string {
  const body = ` path=${name}\n`;
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return `${len}${body}`;
}

const keys = ['s1', 's2', 'dir/s3', 'a.b/s4', '__meta__', 'S5'];
const exts = ['cls', 'txt', 'json', 'bin', 'PNG', 'seg.png', 'npy', ''];
const member = fc.record({
  key: fc.constantFrom(...keys),
  ext: fc.constantFrom(...exts),
  kind: fc.constantFrom('plain', 'plain', 'plain', 'long', 'pax', 'link', 'dir'),
  data: fc.oneof(
    fc.constantFrom('1', ' 42\n', '{"a": 1}', 'not json', 'x'.repeat(700), '7e3'),
    fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b).toString('latin1')),
  ),
});

type Member = { key: string; ext: string; kind: string; data: string };

/** A tar of generated members: plain ones, GNU long names, pax paths, hard links, directories. */
function tarOf(ms: Member[]): Uint8Array {
  const entries: TarEntry[] = [];
  const names: string[] = [];
  for (const [i, m] of ms.entries()) {
    const base = m.ext === '' ? m.key : `${m.key}.${m.ext}`;
    if (m.kind === 'dir') entries.push({ name: `${m.key}/`, type: '5' });
    else if (m.kind === 'link' && names.length > 0)
      entries.push({ name: base, type: '1', linkname: names[i % names.length] });
    else if (m.kind === 'long') {
      const name = `${'d'.repeat(110)}/${base}`;
      entries.push({ name: '././@LongLink', type: 'L', data: `${name}\0` });
      entries.push({ name: name.slice(0, 99), data: m.data });
      names.push(name);
    } else if (m.kind === 'pax') {
      const name = `p/${base}`;
      entries.push({ name: 'PaxHeader', type: 'x', data: paxPath(name) });
      entries.push({ name: 'ignored', data: m.data });
      names.push(name);
    } else {
      entries.push({ name: base, data: m.data });
      names.push(base);
    }
  }
  return makeTar(entries);
}

describe('the WebDataset index of a tar', () => {
  it('gives the samples the tar reader and wdsSampleOf give: keys, types, values and errors', () => {
    fc.assert(
      fc.property(fc.array(member, { maxLength: 24 }), fc.boolean(), (ms, raw) => {
        const bytes = tarOf(ms);
        const options: WebDatasetOptions = raw ? { decode: 'raw' } : {};
        const want = reference(bytes, options);
        expect(indexed(bytes, false, options)).toEqual(want);
        expect(indexed(bytes, true, options)).toEqual(want);
      }),
      { numRuns: 400 },
    );
  });

  it('damaged archives: the same samples or the same StreamsError as the tar reader', () => {
    const base = tarOf([
      { key: 's1', ext: 'cls', kind: 'plain', data: '1' },
      { key: 's1', ext: 'bin', kind: 'plain', data: 'x'.repeat(600) },
      { key: 's2', ext: 'txt', kind: 'plain', data: 'two' },
      { key: 'dir/s3', ext: 'json', kind: 'plain', data: '{"a": 3}' },
    ]);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), {
          maxLength: 6,
        }),
        fc.nat(base.length),
        (edits, cut) => {
          const bytes = base.slice();
          for (const [at, v] of edits) bytes[at] = v;
          for (const b of [bytes, bytes.subarray(0, cut)]) {
            const want = reference(b);
            expect(indexed(b, false)).toEqual(want);
            expect(indexed(b, true)).toEqual(want);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('indexes the tars WdsWriter writes, and an unaligned copy of them, alike', async () => {
    const { mkdtemp, readdir, readFile, rm } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = await mkdtemp(join(tmpdir(), 'wds-index-'));
    try {
      const w = new WdsWriter({ out: dir });
      for (let i = 0; i < 300; i++)
        await w.write({ __key__: `k${i}`, cls: i, txt: `t${i}`, bin: new Uint8Array(i % 700) });
      await w.finish();
      const [file] = (await readdir(dir)).filter((f) => f.endsWith('.tar'));
      const bytes = new Uint8Array(await readFile(join(dir, file as string)));
      const want = reference(bytes);
      expect((want as unknown[]).length).toBe(300);
      expect(indexed(bytes, false)).toEqual(want);
      expect(indexed(bytes, true)).toEqual(want);
      // At an odd byte offset the headers are summed a byte at a time: the same index.
      const odd = new Uint8Array(bytes.length + 1).subarray(1);
      odd.set(bytes);
      expect(indexed(odd, false)).toEqual(want);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('indexFits: the same archive fits; a rewrite that moves members or changes the size does not', () => {
    const a = makeTar([
      { name: 's1.cls', data: '1' },
      { name: 's1.bin', data: 'x'.repeat(600) },
      { name: 's2.cls', data: '2' },
    ]);
    const index = indexTarBytes(a, URL);
    expect(indexFits(index, a)).toBe(true);
    expect(indexFits(index, a.slice())).toBe(true);
    // Same size, members moved: the first member grew by a block, the second shrank by one.
    const moved = makeTar([
      { name: 's1.cls', data: '1'.repeat(600) },
      { name: 's1.bin', data: 'x'.repeat(1) },
      { name: 's2.cls', data: '2' },
    ]);
    expect(moved.length).toBe(a.length);
    expect(indexFits(index, moved)).toBe(false);
    // Same layout, other bytes in a member: it still fits (the places are right).
    const edited = a.slice();
    edited[512 * 3] = 0x79;
    expect(indexFits(index, edited)).toBe(true);
    expect(indexFits(index, makeTar([{ name: 's1.cls', data: '1' }]))).toBe(false);
    // Same layout, a member renamed (valid checksum): it does not fit.
    const renamed = makeTar([
      { name: 's1.cls', data: '1' },
      { name: 's1.bmp', data: 'x'.repeat(600) },
      { name: 's2.cls', data: '2' },
    ]);
    expect(renamed.length).toBe(a.length);
    expect(indexFits(index, renamed)).toBe(false);
    // Extensions are keyed lower-cased: an upper-case one fits the index made from it.
    const upper = makeTar([
      { name: 'dir.v2/S1.JPG', data: 'j' },
      { name: 'dir.v2/S1.seg.PNG', data: 'p' },
    ]);
    expect(indexFits(indexTarBytes(upper, URL), upper)).toBe(true);
  });
});
