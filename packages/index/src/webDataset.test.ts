import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { isStreamsError } from '@streams/core';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chunksOf, collect, makeTar, tempDir } from '../test/fixtures.js';
import { openDataset } from './dataset.js';
import { RoutingByteSource } from './routingByteSource.js';
import { expandBraces } from './shardList.js';
import { locateTarMembers, readTar, readTarBytes } from './tarReader.js';
import { wdsSamplesFromTar, wdsSplitKey } from './webDataset.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  tmp = await tempDir();
});
afterEach(() => tmp.cleanup());

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(isStreamsError(e), String(e)).toBe(true);
    return (e as { code: string }).code;
  }
  return 'none';
}

const tar = makeTar([
  { name: 'a/000001.jpg', data: 'JPEG1' },
  { name: 'a/000001.cls', data: '3\n' },
  { name: 'a/000001.json', data: '{"w": 2}' },
  { name: 'a/000002.jpg', data: 'JPEG2' },
  { name: 'a/000002.cls', data: '7' },
  { name: 'a/000002.seg.png', data: 'PNG' },
  { name: 'a/', type: '5' },
]);

describe('WebDataset tar shards', () => {
  it('groups members into samples by key, decoding cls/json/txt', async () => {
    const samples = await collect(wdsSamplesFromTar(chunksOf(tar, 100), 'mem.tar'));
    expect(samples).toHaveLength(2);
    expect(samples[0]).toMatchObject({ __key__: 'a/000001', cls: 3, json: { w: 2 } });
    expect(new TextDecoder().decode(samples[0]?.jpg as Uint8Array)).toBe('JPEG1');
    expect(samples[1]).toMatchObject({ __key__: 'a/000002', cls: 7 });
    expect(samples[1]?.['seg.png']).toBeInstanceOf(Uint8Array);
    expect(wdsSplitKey('dir.x/abc.def.ghi')).toEqual({ key: 'dir.x/abc', ext: 'def.ghi' });
  });

  it('reads real GNU tar archives (pax long names) and .tar.gz, via openDataset and brace patterns', async () => {
    const src = join(tmp.dir, 'src');
    const long = `${'d'.repeat(120)}`;
    await mkdir(join(src, long), { recursive: true });
    for (let k = 0; k < 3; k++) {
      await writeFile(join(src, long, `s${k}.txt`), `text ${k}`);
      await writeFile(join(src, long, `s${k}.cls`), String(k));
    }
    const run = promisify(execFile);
    await run('tar', [
      '--format=pax',
      '--sort=name',
      '-cf',
      join(tmp.dir, 'shard-000.tar'),
      '-C',
      src,
      long,
    ]);
    await run('tar', [
      '--format=gnu',
      '--sort=name',
      '-czf',
      join(tmp.dir, 'shard-001.tar.gz'),
      '-C',
      src,
      long,
    ]);
    await using ds = await openDataset(join(tmp.dir, 'shard-{000..000}.tar'));
    const a = await collect(ds.samples());
    expect(a.map((s) => [s.__key__, s.cls, s.txt])).toEqual([
      [`${long}/s0`, 0, 'text 0'],
      [`${long}/s1`, 1, 'text 1'],
      [`${long}/s2`, 2, 'text 2'],
    ]);
    await using gz = await openDataset(join(tmp.dir, 'shard-001.tar.gz'));
    expect((await collect(gz.samples())).map((s) => s.cls)).toEqual([0, 1, 2]);
    await using dir = await openDataset(tmp.dir);
    expect(dir.format).toBe('wds');
    expect((await collect(dir.samples({ start: 2, end: 4 }))).map((s) => s.cls)).toEqual([2, 0]);
    await writeFile(join(tmp.dir, 'shards.txt'), 'shard-000.tar\nshard-001.tar.gz\n');
    await using list = await openDataset(join(tmp.dir, 'shards.txt'));
    expect((await collect(list.samples())).length).toBe(6);
  });

  it('rejects members that escape with STREAMS_UNSAFE_PATH', async () => {
    for (const entry of [
      { name: '../evil.txt', data: 'x' },
      { name: '/etc/passwd.txt', data: 'x' },
      { name: 'a/../../b.txt', data: 'x' },
      { name: 'link.txt', type: '2', linkname: '../../outside' },
      { name: 'link.txt', type: '1', linkname: '/etc/passwd' },
    ]) {
      const bytes = makeTar([{ name: 'ok.txt', data: 'fine' }, entry]);
      expect(await codeOf(collect(readTar(chunksOf(bytes))))).toBe('STREAMS_UNSAFE_PATH');
    }
  });

  it('hard links inside the archive carry their target bytes; others are rejected, never dropped', async () => {
    const linked = makeTar([
      { name: 's/000001.jpg', data: 'JPEG1' },
      { name: 's/000001.input.jpg', type: '1', linkname: './s/000001.jpg' },
      { name: 's/000001.cls', data: '1' },
    ]);
    const members = await collect(readTar(chunksOf(linked, 100)));
    expect(members.map((m) => [m.name, new TextDecoder().decode(m.data)])).toEqual([
      ['s/000001.jpg', 'JPEG1'],
      ['s/000001.input.jpg', 'JPEG1'],
      ['s/000001.cls', '1'],
    ]);
    const [sample] = await collect(wdsSamplesFromTar(chunksOf(linked), 'mem.tar'));
    expect(Object.keys(sample ?? {}).sort()).toEqual([
      '__key__',
      '__url__',
      'cls',
      'input.jpg',
      'jpg',
    ]);
    const outside = makeTar([
      { name: 'a.txt', data: 'x' },
      { name: 'b.txt', type: '1', linkname: 'elsewhere/c.txt' },
    ]);
    expect(await codeOf(collect(readTar(chunksOf(outside))))).toBe('STREAMS_UNSAFE_PATH');
    const far = makeTar([
      { name: 'a.txt', data: 'x'.repeat(300) },
      { name: 'big.bin', data: 'y'.repeat(600) },
      { name: 'b.txt', type: '1', linkname: 'a.txt' },
    ]);
    expect(await codeOf(collect(readTar(chunksOf(far), { maxLinkBytes: 700 })))).toBe(
      'STREAMS_NOT_IMPLEMENTED',
    );
  });

  it('text members that are not UTF-8 are STREAMS_DECODE_FAILED, or replaced when asked', async () => {
    const bad = makeTar([{ name: 'k.txt', data: new Uint8Array([0x61, 0xff, 0x62]) }]);
    const e = await collect(wdsSamplesFromTar(chunksOf(bad), 'bad.tar')).catch((x: unknown) => x);
    expect(isStreamsError(e, 'STREAMS_DECODE_FAILED'), String(e)).toBe(true);
    expect((e as Error).message).toMatch(/k\.txt.*UTF-8/);
    const [s] = await collect(
      wdsSamplesFromTar(chunksOf(bad), 'bad.tar', { invalidUtf8: 'replace' }),
    );
    expect(s?.txt).toBe('a\ufffdb');
  });

  it('truncated or damaged archives are STREAMS_SHARD_CORRUPT', async () => {
    expect(await codeOf(collect(readTar(chunksOf(tar.subarray(0, 700)))))).toBe(
      'STREAMS_SHARD_CORRUPT',
    );
    expect(await codeOf(collect(readTar(chunksOf(tar.subarray(0, 300)))))).toBe(
      'STREAMS_SHARD_CORRUPT',
    );
    const bad = tar.slice();
    bad[10] = 0x41; // header byte changed: checksum fails
    expect(await codeOf(collect(readTar(chunksOf(bad))))).toBe('STREAMS_SHARD_CORRUPT');
    const gz = gzipSync(tar).subarray(0, 60);
    await writeFile(join(tmp.dir, 'x.tar.gz'), gz);
    await using ds = await openDataset(join(tmp.dir, 'x.tar.gz'));
    expect(await codeOf(collect(ds.samples()))).toBe('STREAMS_SHARD_CORRUPT');
  });

  it('fuzz: random and mutated bytes only ever raise StreamsErrors, the same in memory as streamed', async () => {
    /** Members as (name, text) pairs, or the error code that ended the walk. */
    const outcome = async (members: () => AsyncIterable<{ name: string; data: Uint8Array }>) => {
      const got: [string, string][] = [];
      try {
        for await (const m of members()) got.push([m.name, Buffer.from(m.data).toString('hex')]);
        return { got };
      } catch (e) {
        if (!isStreamsError(e)) throw e;
        return { got, code: e.code };
      }
    };
    const check = async (bytes: Uint8Array) => {
      try {
        await collect(wdsSamplesFromTar(chunksOf(bytes, 97), 'f.tar'));
      } catch (e) {
        if (!isStreamsError(e)) throw e;
      }
      const streamed = await outcome(() => readTar(chunksOf(bytes, 97)));
      const inMemory = await outcome(async function* () {
        yield* readTarBytes(bytes);
      });
      expect(inMemory).toEqual(streamed);
      // Located, not read: the same members, their bytes where `at` says.
      const located = await outcome(async function* () {
        for (const m of locateTarMembers((a, b) => bytes.subarray(a, b), bytes.length)) {
          const at = m.at as { offset: number; size: number };
          yield { name: m.name, data: bytes.subarray(at.offset, at.offset + at.size) };
        }
      });
      expect(located).toEqual(streamed);
    };
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 2048 }), check), { numRuns: 300 });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(tar.length - 1), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 8,
        }),
        fc.nat(tar.length),
        async (edits, cut) => {
          const copy = tar.slice();
          for (const [at, v] of edits) copy[at] = v;
          await check(copy);
          await check(copy.subarray(0, cut));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('the in-memory reader gives the members the streamed one gives: links, limits and errors alike', async () => {
    const linked = makeTar([
      { name: 'a.txt', data: 'x'.repeat(300) },
      { name: 'big.bin', data: 'y'.repeat(600) },
      { name: './c.txt', type: '1', linkname: 'big.bin' },
      { name: 'd.txt', type: '1', linkname: 'a.txt' },
    ]);
    const names = (ms: { name: string; data: Uint8Array }[]) =>
      ms.map((m) => [m.name, m.data.length]);
    expect(names([...readTarBytes(linked)])).toEqual(
      names(await collect(readTar(chunksOf(linked)))),
    );
    expect(names([...readTarBytes(linked)])).toEqual([
      ['a.txt', 300],
      ['big.bin', 600],
      ['./c.txt', 600],
      ['d.txt', 300],
    ]);
    // The member a link names is more than maxLinkBytes back: the same refusal in memory.
    let code = 'none';
    try {
      [...readTarBytes(linked, { maxLinkBytes: 700 })];
    } catch (e) {
      code = (e as { code: string }).code;
    }
    expect(code).toBe('STREAMS_NOT_IMPLEMENTED');
    // Members are views into the archive: nothing copied.
    const [first] = readTarBytes(tar);
    expect(first?.data.buffer).toBe(tar.buffer);
  });

  it('counting a local tar reads its headers, not its members', async () => {
    const big = new Uint8Array(200 * 1024).fill(9);
    const entries = [];
    for (let i = 0; i < 10; i++)
      entries.push({ name: `s/${i}.bin`, data: big }, { name: `s/${i}.cls`, data: String(i) });
    const bytes = makeTar(entries);
    await writeFile(join(tmp.dir, 'big.tar'), bytes);
    const inner = new RoutingByteSource();
    let read = 0;
    const source = Object.assign(Object.create(inner) as RoutingByteSource, {
      readRangeSync(url: string, start: number, end: number) {
        const got = inner.readRangeSync(url, start, end);
        read += got?.length ?? 0;
        return got;
      },
    });
    await using ds = await openDataset(join(tmp.dir, 'big.tar'), { source });
    expect(await ds.dataset.count()).toBe(10);
    // Headers in 64 KiB windows plus the first sample's members for its columns: a fraction.
    expect(read).toBeGreaterThan(0);
    expect(read).toBeLessThan(bytes.length / 5);
    expect(ds.columns.map((c) => [c.name, c.type])).toEqual(
      expect.arrayContaining([
        ['bin', 'bytes'],
        ['cls', 'number'],
      ]),
    );
    const got = await collect(ds.samples());
    expect(got.map((x) => x.cls)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(got[3]?.bin).toEqual(big);
    await inner.close();
  });

  it('a tar counted at open is loaded through the index the count made, unless it changed since', async () => {
    const file = join(tmp.dir, 'kept.tar');
    const before = makeTar([
      { name: 's1.txt', data: 'a' },
      { name: 's1.bin', data: 'x'.repeat(600) },
      { name: 's2.txt', data: 'b' },
    ]);
    await writeFile(file, before);
    const text = (u: Awaited<ReturnType<typeof ds.dataset.load>>) =>
      [0, 1].map((j) => u.decode(j).txt);
    await using ds = await openDataset(file);
    expect(await ds.dataset.count()).toBe(2);
    const first = await ds.dataset.load(0);
    expect(text(first)).toEqual(['a', 'b']);
    expect(first.decode(0).bin).toEqual(new TextEncoder().encode('x'.repeat(600)));
    // Counted, then rewritten to the same size with its members moved: what is there now is read.
    await using again = await openDataset(file);
    expect(await again.dataset.count()).toBe(2);
    const after = makeTar([
      { name: 's1.txt', data: 'c'.repeat(600) },
      { name: 's1.bin', data: 'y' },
      { name: 's2.txt', data: 'd' },
    ]);
    expect(after.length).toBe(before.length);
    await writeFile(file, after);
    const moved = await again.dataset.load(0);
    expect(text(moved)).toEqual(['c'.repeat(600), 'd']);
    expect(moved.decode(0).bin).toEqual(new TextEncoder().encode('y'));
    // Counted, then rewritten with the same layout (sizes, places, valid checksums) but renamed
    // members: the new names are read, not the counted ones.
    await using third = await openDataset(file);
    expect(await third.dataset.count()).toBe(2);
    const renamed = makeTar([
      { name: 't1.txt', data: 'c'.repeat(600) },
      { name: 't1.dat', data: 'y' },
      { name: 't2.TXT', data: 'd' },
    ]);
    expect(renamed.length).toBe(after.length);
    await writeFile(file, renamed);
    const re = await third.dataset.load(0);
    expect([0, 1].map((j) => re.decode(j).__key__)).toEqual(['t1', 't2']);
    expect(re.decode(0).dat).toEqual(new TextEncoder().encode('y'));
    expect(re.decode(0).bin).toBeUndefined();
    expect(re.decode(1).txt).toBe('d');
  });

  it('opening tars counts samples without decoding them; a bad member fails only when read', async () => {
    const bytes = makeTar([
      { name: 's/1.cls', data: '1' },
      { name: 's/2.cls', data: '2' },
      { name: 's/2.json', data: '{not json' },
      { name: 's/3.txt', data: 'three' },
    ]);
    await writeFile(join(tmp.dir, 'late.tar'), bytes);
    await using ds = await openDataset(join(tmp.dir, 'late.tar'));
    expect(await ds.dataset.count()).toBe(3);
    // Columns come from the first sample of each set of extensions (s/3's txt included).
    expect(ds.columns.map((c) => c.name).sort()).toEqual(['__key__', '__url__', 'cls', 'txt']);
    expect(await codeOf(collect(ds.samples()))).toBe('STREAMS_DECODE_FAILED');
    // The first sample of a set of extensions does not decode: the next one like it names the
    // columns.
    const first = makeTar([
      { name: 's/1.json', data: '{not json' },
      { name: 's/2.json', data: '{"a": 2}' },
      { name: 's/3.json', data: '{"a": 3}' },
    ]);
    await writeFile(join(tmp.dir, 'first.tar'), first);
    await using ds2 = await openDataset(join(tmp.dir, 'first.tar'));
    expect(await ds2.dataset.count()).toBe(3);
    expect(ds2.columns.map((c) => c.name).sort()).toEqual(['__key__', '__url__', 'json']);
  });

  it('expands brace patterns like WebDataset', () => {
    expect(expandBraces('s-{008..011}.tar')).toEqual([
      's-008.tar',
      's-009.tar',
      's-010.tar',
      's-011.tar',
    ]);
    expect(expandBraces('{a,b}-{1..2}')).toEqual(['a-1', 'a-2', 'b-1', 'b-2']);
  });
});
