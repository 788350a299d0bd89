import { readdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isStreamsError, type StreamsErrorCode } from '@streams/core';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from '../test/fixtures.js';
import { LocalByteSource } from './localByteSource.js';
import { openMdsDataset } from './mdsDataset.js';
import { decodeMdsSample, MdsSchema, mdsShardOffsets } from './mdsShard.js';
import { MdsWriter } from './mdsWriter.js';
import { RoutingByteSource } from './routingByteSource.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  tmp = await tempDir();
});
afterEach(() => tmp.cleanup());

const ALL_COLUMNS = {
  b: 'bytes',
  s: 'str',
  i: 'int',
  u8: 'uint8',
  u16: 'uint16',
  u32: 'uint32',
  u64: 'uint64',
  i8: 'int8',
  i16: 'int16',
  i32: 'int32',
  i64: 'int64',
  f16: 'float16',
  f32: 'float32',
  f64: 'float64',
  si: 'str_int',
  sf: 'str_float',
  sd: 'str_decimal',
  j: 'json',
  nd: 'ndarray',
  ndt: 'ndarray:uint8',
  nds: 'ndarray:float32:2,2',
  jp: 'jpeg',
  pn: 'png',
  pl: 'pil',
};

function sampleOf(k: number) {
  return {
    b: new Uint8Array(k % 7).fill(k & 255),
    s: `s${k}-é`,
    i: k * 1_000_003 - 7,
    u8: k & 255,
    u16: k * 3,
    u32: k * 100_000,
    u64: 2n ** 63n + BigInt(k),
    i8: -(k % 128) | 0,
    i16: -k | 0,
    i32: (-k * 1000) | 0,
    i64: -(2n ** 62n) - BigInt(k),
    f16: k / 4,
    f32: k + 0.25,
    f64: k / 7,
    si: 10n ** 20n + BigInt(k),
    sf: k / 3,
    sd: `${k}.000000000000000000001`,
    j: { k, tags: ['a', 'b'].slice(0, k % 3) },
    nd: { dtype: 'int16', shape: [1, (k % 3) + 1], data: new Int16Array((k % 3) + 1).fill(-k) },
    ndt: { dtype: 'uint8', shape: [2], data: new Uint8Array([k & 255, 1]) },
    nds: { dtype: 'float32', shape: [2, 2], data: new Float32Array([k, 1, 2, 3]) },
    jp: { format: 'jpeg', bytes: new Uint8Array([0xff, 0xd8, k & 255, 0xff, 0xd9]) },
    pn: { format: 'png', bytes: new Uint8Array([0x89, 0x50, k & 255]) },
    pl: { format: 'pil', mode: 'L', width: 1, height: 2, bytes: new Uint8Array([k & 255, 0]) },
  };
}

function normalize(s: Record<string, unknown>) {
  const o = { ...s } as Record<string, unknown>;
  // Decoded 64-bit integers that fit 2^53 come back as numbers.
  for (const [k, v] of Object.entries(o))
    if (typeof v === 'bigint' && v <= 2n ** 53n && v >= -(2n ** 53n)) o[k] = Number(v);
  return o;
}

async function expectCode(p: Promise<unknown> | (() => unknown), code: StreamsErrorCode) {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    expect(isStreamsError(e), String(e)).toBe(true);
    expect((e as { code: string }).code).toBe(code);
    return e as Error;
  }
  throw new Error(`expected ${code}, nothing was thrown`);
}

describe('MDS round trips', () => {
  for (const compression of [null, 'gz', 'bz2', 'zstd', 'zstd:7', 'br:5', 'snappy']) {
    it(`every encoding with compression ${compression}`, async () => {
      const w = new MdsWriter({
        out: tmp.dir,
        columns: ALL_COLUMNS,
        compression,
        hashes: ['sha256', 'xxh64', 'md5'],
        sizeLimit: 2048,
      });
      const n = 60;
      for (let k = 0; k < n; k++) await w.write(sampleOf(k));
      const shards = await w.finish();
      expect(shards.length).toBeGreaterThan(2);
      if (compression) {
        expect(shards[0]?.zip_data?.basename).toBe(`shard.00000.mds.${compression.split(':')[0]}`);
        expect(shards[0]?.compression).toBe(compression);
      }
      expect(Object.keys(shards[0]?.raw_data.hashes ?? {})).toEqual(['md5', 'sha256', 'xxh64']);
      await using ds = await openMdsDataset(tmp.dir, { validateHashes: 'xxh64' });
      expect(ds.numSamples).toBe(n);
      let k = 0;
      for await (const s of ds.samples()) {
        expect(normalize(s)).toEqual(normalize(sampleOf(k)));
        k++;
      }
      expect(k).toBe(n);
      // Random access across shards, compressed or not.
      expect(normalize(await ds.get(37))).toEqual(normalize(sampleOf(37)));
      expect(normalize(await ds.get(0))).toEqual(normalize(sampleOf(0)));
    });
  }

  it('is deterministic: the same input gives the same bytes', async () => {
    const write = async (dir: string) => {
      const w = new MdsWriter({
        out: dir,
        columns: ALL_COLUMNS,
        sizeLimit: 4096,
        compression: 'zstd',
      });
      for (let k = 0; k < 30; k++) await w.write(sampleOf(k));
      await w.finish();
      return readFile(join(dir, 'index.json'), 'utf8');
    };
    expect(await write(join(tmp.dir, 'a'))).toBe(await write(join(tmp.dir, 'b')));
  });

  it('size_limit splitting follows MosaicML, including one shard when null', async () => {
    const w = new MdsWriter({ out: tmp.dir, columns: { x: 'bytes' }, sizeLimit: null });
    for (let k = 0; k < 100; k++) await w.write({ x: new Uint8Array(1000) });
    const shards = await w.finish();
    expect(shards).toHaveLength(1);
    expect(shards[0]?.size_limit).toBeNull();
  });

  it('decodes only the chosen columns and applies decode hooks', async () => {
    const w = new MdsWriter({ out: tmp.dir, columns: { a: 'int', img: 'jpeg' } });
    await w.write({ a: 1, img: new Uint8Array([1, 2]) });
    await w.finish();
    await using ds = await openMdsDataset(tmp.dir, {
      columns: ['img'],
      decoders: { jpeg: (v) => (v as { bytes: Uint8Array }).bytes.length },
    });
    expect(await ds.get(0)).toEqual({ img: 2 });
    await expectCode(openMdsDataset(tmp.dir, { columns: ['nope'] }), 'STREAMS_INVALID_CONFIG');
  });

  it('refuses a non-empty output directory and a sample missing a column', async () => {
    await writeFile(join(tmp.dir, 'junk'), 'x');
    const w = new MdsWriter({ out: tmp.dir, columns: { a: 'int' } });
    await expectCode(w.write({ a: 1 }), 'STREAMS_INVALID_ARGUMENT');
    const w2 = new MdsWriter({ out: join(tmp.dir, 'sub'), columns: { a: 'int', b: 'str' } });
    const e = await expectCode(w2.write({ a: 1 }), 'STREAMS_INVALID_ARGUMENT');
    expect(e.message).toMatch(/column "b"/);
  });
});

describe('random access by synchronous reads', () => {
  it('get(i) of local shards reads synchronously and returns the bytes of the async range path', async () => {
    const w = new MdsWriter({ out: tmp.dir, columns: ALL_COLUMNS, sizeLimit: 2048 });
    const n = 60;
    for (let k = 0; k < n; k++) await w.write(sampleOf(k));
    expect((await w.finish()).length).toBeGreaterThan(2);
    const source = new RoutingByteSource();
    const ranges: Array<[string, number, number]> = [];
    const readRangeSync = source.readRangeSync.bind(source);
    let asyncRanges = 0;
    const readRange = source.readRange.bind(source);
    source.readRangeSync = (url, start, end) => {
      ranges.push([url, start, end]);
      return readRangeSync(url, start, end);
    };
    source.readRange = (url, start, end, o) => {
      asyncRanges++;
      return readRange(url, start, end, o);
    };
    await using ds = await openMdsDataset(tmp.dir, { source });
    // Every sample in a scattered order, all kept: samples share read slabs, so a later read must
    // not change an earlier sample.
    const order = Array.from({ length: n }, (_, k) => (k * 37) % n);
    const got: Record<string, unknown>[] = [];
    for (const i of order) got.push(await ds.get(i));
    expect(got.map(normalize)).toEqual(order.map((i) => normalize(sampleOf(i))));
    // One sync read per sample; async range reads only for the offset tables (one per shard).
    expect(ranges.length).toBe(n);
    expect(asyncRanges).toBe(ds.shards.length);
    for (const [url, start, end] of ranges)
      expect(readRangeSync(url, start, end)).toEqual(await readRange(url, start, end));
    // The same samples as decoding whole shards.
    for (const i of order) {
      const { shard, index } = ds.locate(i);
      const whole = await ds.loadShard(shard);
      expect(normalize(await ds.get(i))).toEqual(
        normalize(decodeMdsSample(whole.bytes, index, ds.schema)),
      );
    }
    await source.close();
  });

  it('a large read ahead of its consumer (background) goes async; a small one stays inline', async () => {
    const w = new MdsWriter({ out: tmp.dir, columns: { b: 'bytes' }, sizeLimit: 1 << 20 });
    const big = new Uint8Array(100_000).map((_, k) => k * 7);
    await w.write({ b: big });
    await w.write({ b: new Uint8Array([1, 2, 3]) });
    await w.finish();
    const source = new RoutingByteSource();
    const calls: string[] = [];
    const readRangeSync = source.readRangeSync.bind(source);
    const readRange = source.readRange.bind(source);
    source.readRangeSync = (url, start, end) => {
      calls.push(`sync ${end - start}`);
      return readRangeSync(url, start, end);
    };
    source.readRange = (url, start, end, o) => {
      calls.push(`async ${end - start}`);
      return readRange(url, start, end, o);
    };
    await using ds = await openMdsDataset(tmp.dir, { source });
    expect((await ds.readSample(0, 0, { background: true })).b).toEqual(big);
    expect((await ds.readSample(0, 1, { background: true })).b).toEqual(new Uint8Array([1, 2, 3]));
    expect((await ds.readSample(0, 0)).b).toEqual(big);
    // The offset table first (async), then the samples as their size and caller ask.
    expect(calls.slice(1)).toEqual([`async ${100_000 + 4}`, 'sync 7', `sync ${100_000 + 4}`]);
    await source.close();
  });

  it('holds at most shardCacheSize shards and maxHandles descriptors; reads the rest from disk', async () => {
    const w = new MdsWriter({ out: tmp.dir, columns: { id: 'int', s: 'str' }, sizeLimit: 300 });
    for (let k = 0; k < 60; k++) await w.write({ id: k, s: `sample ${k}` });
    const shards = await w.finish();
    expect(shards.length).toBeGreaterThan(4);
    // Rewrites sample j of shard 0 in place ("sample" -> "SAMPLE"): what is held in memory keeps
    // the old text, what is read from disk shows the new one.
    const path = join(tmp.dir, 'shard.00000.mds');
    const rewrite = async (j: number) => {
      const bytes = await readFile(path);
      const offsets = mdsShardOffsets(new Uint8Array(bytes), shards[0]!.samples);
      const at = bytes.indexOf('sample', offsets[j]!);
      expect(at).toBeLessThan(offsets[j + 1]!);
      bytes.write('SAMPLE', at);
      await writeFile(path, bytes);
    };
    const fds = () => readdirSync('/proc/self/fd').length;
    const before = fds();
    const source = new LocalByteSource({ maxHandles: 2 });
    await using ds = await openMdsDataset(tmp.dir, { source, shardCacheSize: 2 });
    for (let i = 0; i < ds.numSamples; i++) expect((await ds.get(i)).id).toBe(i);
    // Sync and async descriptors, each pool at most 2.
    expect(fds() - before).toBeLessThanOrEqual(4);
    // Nothing held whole: the sync path reads the file each time.
    await rewrite(1);
    expect((await ds.get(1)).s).toBe('SAMPLE 1');
    // A shard read whole is held (shardCacheSize 2) and served from memory...
    await ds.readShard(0);
    await rewrite(2);
    expect((await ds.get(2)).s).toBe('sample 2');
    // ...until two other shards push it out; then the file is read again.
    await ds.readShard(1);
    await ds.readShard(2);
    expect((await ds.get(2)).s).toBe('SAMPLE 2');
    await ds.close();
    await source.close();
    expect(fds()).toBeLessThanOrEqual(before);
  });
});

describe('malformed MDS input', () => {
  async function writeSmall(dir: string, compression: string | null = null) {
    const w = new MdsWriter({
      out: dir,
      columns: { id: 'int', s: 'str' },
      compression,
      hashes: ['sha1'],
      sizeLimit: 300,
    });
    for (let k = 0; k < 40; k++) await w.write({ id: k, s: `sample ${k}` });
    return w.finish();
  }

  it('a truncated shard is STREAMS_SHARD_CORRUPT, by whole read and by range read', async () => {
    await writeSmall(tmp.dir);
    const path = join(tmp.dir, 'shard.00000.mds');
    const bytes = await readFile(path);
    await writeFile(path, bytes.subarray(0, bytes.length - 10));
    await using ds = await openMdsDataset(tmp.dir);
    await expectCode(ds.readShard(0), 'STREAMS_SHARD_CORRUPT');
    await using ds2 = await openMdsDataset(tmp.dir);
    const e = await expectCode(ds2.readSample(0, 0), 'STREAMS_SHARD_CORRUPT');
    expect(e.message).toMatch(/shard\.00000\.mds/);
  });

  it('wrong offsets are caught', async () => {
    await writeSmall(tmp.dir);
    const path = join(tmp.dir, 'shard.00001.mds');
    const bytes = new Uint8Array(await readFile(path));
    const dv = new DataView(bytes.buffer);
    dv.setUint32(8, dv.getUint32(8, true) + 3, true); // end of sample 0 moves into sample 1
    await writeFile(path, bytes);
    await using ds = await openMdsDataset(tmp.dir);
    await expectCode(ds.readSample(1, 0), 'STREAMS_SHARD_CORRUPT');
    await using ds2 = await openMdsDataset(tmp.dir);
    await expectCode(async () => {
      for await (const _ of ds2.samples()) {
        // drain
      }
    }, 'STREAMS_SHARD_CORRUPT');
  });

  it('an index.json that lies about sample counts or sizes is caught', async () => {
    await writeSmall(tmp.dir);
    const indexPath = join(tmp.dir, 'index.json');
    const index = JSON.parse(await readFile(indexPath, 'utf8'));
    const original = index.shards[0].samples;
    index.shards[0].samples += 1;
    await writeFile(indexPath, JSON.stringify(index));
    await using ds = await openMdsDataset(tmp.dir);
    const e = await expectCode(ds.readShard(0), 'STREAMS_SHARD_CORRUPT');
    expect(e.message).toMatch(/header says \d+ samples, index.json says/);
    await expectCode(ds.readSample(0, 0), 'STREAMS_SHARD_CORRUPT');
    index.shards[0].samples = original;
    index.shards[1].raw_data.bytes += 5;
    await writeFile(indexPath, JSON.stringify(index));
    await using ds2 = await openMdsDataset(tmp.dir);
    await expectCode(ds2.readShard(1), 'STREAMS_SHARD_CORRUPT');
  });

  it('declared sample counts and sizes are checked against each other before anything is read', async () => {
    const shard = (over: Record<string, unknown>) =>
      JSON.stringify({
        version: 2,
        shards: [
          {
            version: 2,
            format: 'mds',
            column_names: ['x', 's'],
            column_encodings: ['int', 'str'],
            column_sizes: [8, null],
            samples: 2,
            raw_data: { basename: 'shard.00000.mds', bytes: 64 },
            ...over,
          },
        ],
      });
    const lies: [string, Record<string, unknown>][] = [
      ['2e9 samples in 64 bytes', { samples: 2e9 }],
      ['2^40 samples', { samples: 2 ** 40, raw_data: { basename: 'a', bytes: 2 ** 52 } }],
      // Every sample holds 8 bytes of x and a 4-byte size of s: 2 samples need 16 + 24 bytes.
      ['samples larger than the shard', { raw_data: { basename: 'a', bytes: 39 } }],
      ['a 10^15-byte shard (MDS offsets are 32-bit)', { raw_data: { basename: 'a', bytes: 1e15 } }],
      [
        'a compressed file far larger than its data',
        { compression: 'zstd', zip_data: { basename: 'a.zstd', bytes: 1e15 } },
      ],
    ];
    for (const [what, over] of lies) {
      await writeFile(join(tmp.dir, 'index.json'), shard(over));
      const e = await expectCode(openMdsDataset(tmp.dir), 'STREAMS_INDEX_INVALID');
      expect(e.message, what).toMatch(/shards\[0\]/);
    }
    // The smallest honest declaration opens (and no shard file is needed to open).
    await writeFile(join(tmp.dir, 'index.json'), shard({ raw_data: { basename: 'a', bytes: 40 } }));
    await using ds = await openMdsDataset(tmp.dir);
    expect(ds.numSamples).toBe(2);
  });

  it('shard basenames are relative paths under the dataset root, always', async () => {
    const withBasename = (basename: string) =>
      JSON.stringify({
        version: 2,
        shards: [
          {
            version: 2,
            format: 'mds',
            column_names: ['x'],
            column_encodings: ['int'],
            column_sizes: [8],
            samples: 0,
            raw_data: { basename, bytes: 8 },
          },
        ],
      });
    const unsafe = [
      'file:///etc/passwd',
      'http://127.0.0.1:9/shard.mds',
      's3://other-bucket/shard.mds',
      '//other-host/shard.mds',
      ' //other-host/shard.mds',
      '\t//other-host/x',
      '\\\\other-host\\x',
      '/etc/passwd',
      'C:/x',
      'c:x',
      'a:b/shard.mds',
      '../x',
      'a/../../x',
      '%2e%2e/x',
      'a/.%2E/x',
      'a/\n../x',
      '',
    ];
    for (const name of unsafe) {
      await writeFile(join(tmp.dir, 'index.json'), withBasename(name));
      const e = await expectCode(openMdsDataset(tmp.dir), 'STREAMS_UNSAFE_PATH');
      expect(e.message).toMatch(/basename/);
    }
    for (const name of ['shard.00000.mds', 'train/shard.00000.mds', './s.mds', 'a/b:c.mds']) {
      await writeFile(join(tmp.dir, 'index.json'), withBasename(name));
      await using ds = await openMdsDataset(tmp.dir);
      expect(ds.shards[0]?.basename).toBe(name);
    }
  });

  it('a hash mismatch is STREAMS_HASH_MISMATCH, also for compressed shards', async () => {
    await writeSmall(tmp.dir, 'gz');
    const index = JSON.parse(await readFile(join(tmp.dir, 'index.json'), 'utf8'));
    index.shards[0].zip_data.hashes.sha1 = '0'.repeat(40);
    await writeFile(join(tmp.dir, 'index.json'), JSON.stringify(index));
    await using ds = await openMdsDataset(tmp.dir, { validateHashes: true });
    await expectCode(ds.readShard(0), 'STREAMS_HASH_MISMATCH');
    await ds.readShard(1);
  });

  it('a corrupt compressed shard is STREAMS_SHARD_CORRUPT', async () => {
    await writeSmall(tmp.dir, 'zstd');
    const path = join(tmp.dir, 'shard.00000.mds.zstd');
    const bytes = new Uint8Array(await readFile(path));
    bytes.fill(0x41, 4, 20);
    await writeFile(path, bytes);
    const index = JSON.parse(await readFile(join(tmp.dir, 'index.json'), 'utf8'));
    await using ds = await openMdsDataset(tmp.dir);
    expect(index.shards[0].zip_data.bytes).toBe(bytes.length);
    await expectCode(ds.readShard(0), 'STREAMS_SHARD_CORRUPT');
  });

  it('bad index.json files get clear codes', async () => {
    const cases: [string, StreamsErrorCode][] = [
      ['not json', 'STREAMS_INDEX_INVALID'],
      ['{"version": 1, "shards": []}', 'STREAMS_INDEX_INVALID'],
      ['{"version": 2}', 'STREAMS_INDEX_INVALID'],
      [
        '{"version": 2, "shards": [{"version": 2, "format": "json"}]}',
        'STREAMS_UNSUPPORTED_ENCODING',
      ],
      [
        '{"version": 2, "shards": [{"version": 2, "format": "mds", "column_names": ["x"], "column_encodings": ["pkl"], "column_sizes": [null], "samples": 1, "raw_data": {"basename": "a", "bytes": 16}}]}',
        'STREAMS_UNSUPPORTED_ENCODING',
      ],
      [
        '{"version": 2, "shards": [{"version": 2, "format": "mds", "column_names": ["x"], "column_encodings": ["int"], "column_sizes": [8], "samples": 1, "raw_data": {"basename": "../a", "bytes": 1}}]}',
        'STREAMS_UNSAFE_PATH',
      ],
    ];
    for (const [text, code] of cases) {
      await writeFile(join(tmp.dir, 'index.json'), text);
      await expectCode(openMdsDataset(tmp.dir), code);
    }
    await expectCode(openMdsDataset(join(tmp.dir, 'missing')), 'STREAMS_NOT_FOUND');
  });

  it('a pkl column fails at open, naming the column, unless left out', async () => {
    await writeFile(
      join(tmp.dir, 'index.json'),
      '{"version": 2, "shards": [{"version": 2, "format": "mds", "column_names": ["obj", "x"], "column_encodings": ["pkl", "int"], "column_sizes": [null, 8], "samples": 0, "raw_data": {"basename": "a", "bytes": 12}, "compression": null, "zip_data": null}]}',
    );
    const e = await expectCode(openMdsDataset(tmp.dir), 'STREAMS_UNSUPPORTED_ENCODING');
    expect(e.message).toMatch(/column "obj"/);
    await using ds = await openMdsDataset(tmp.dir, { columns: ['x'] });
    expect(ds.numSamples).toBe(0);
  });
});

describe('fuzzing the MDS reader', () => {
  const schema = new MdsSchema([
    { name: 'a', encoding: 'int', size: 8 },
    { name: 'b', encoding: 'str', size: null },
    { name: 'c', encoding: 'ndarray', size: null },
    { name: 'd', encoding: 'json', size: null },
  ]);
  const onlyStreamsErrors = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      if (!isStreamsError(e)) throw e;
    }
  };

  it('random bytes only ever raise StreamsErrors', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(5), (bytes, j) => {
        onlyStreamsErrors(() => decodeMdsSample(bytes, j, schema));
      }),
      { numRuns: 2000 },
    );
  });

  it('mutated valid shards only ever raise StreamsErrors', async () => {
    const w = new MdsWriter({
      out: tmp.dir,
      columns: { a: 'int', b: 'str', c: 'ndarray', d: 'json' },
    });
    for (let k = 0; k < 5; k++)
      await w.write({
        a: k,
        b: `x${k}`,
        c: { dtype: 'uint8', shape: [2], data: new Uint8Array([k, k]) },
        d: [k],
      });
    await w.finish();
    const shard = new Uint8Array(await readFile(join(tmp.dir, 'shard.00000.mds')));
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(shard.length - 1), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 6,
        }),
        fc.nat(4),
        (edits, j) => {
          const copy = shard.slice();
          for (const [at, v] of edits) copy[at] = v;
          onlyStreamsErrors(() => decodeMdsSample(copy, j, schema));
          onlyStreamsErrors(() => decodeMdsSample(copy.subarray(0, edits[0]?.[0] ?? 0), j, schema));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('random index.json text only ever raises StreamsErrors', async () => {
    const { parseMdsIndex } = await import('./parseMdsIndex.js');
    fc.assert(
      fc.property(fc.json(), (text) => {
        onlyStreamsErrors(() => parseMdsIndex(text, 'index.json'));
      }),
      { numRuns: 1000 },
    );
  });
});
