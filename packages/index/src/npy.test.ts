import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeNpy, isStreamsError, rng } from '@streams/core';
import { numpyPython } from '@streams/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collect, makeTar, tempDir } from '../test/fixtures.js';
import { openDataset } from './dataset.js';
import { convertDataset } from './datasetConvert.js';
import { openMdsDataset } from './mdsDataset.js';
import { MdsWriter } from './mdsWriter.js';
import { isNpyValue, npyBytes } from './npy.js';
import { WdsWriter, wdsMemberExtension } from './wdsWriter.js';
import { wdsSampleOf } from './webDataset.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  tmp = await tempDir();
});
afterEach(() => tmp.cleanup());

const list = (a: unknown) => Array.from(a as ArrayLike<number | bigint>);

describe('npyBytes', () => {
  it('writes typed arrays and ndarrays as .npy that decode to the same dtype, shape and values', () => {
    const cases = [
      { value: new Float32Array([1.5, -2, 3]), dtype: 'float32', shape: [3] },
      { value: new BigInt64Array([-(2n ** 62n), 5n]), dtype: 'int64', shape: [2] },
      {
        value: { dtype: 'int16', shape: [2, 2], data: new Int16Array([1, -2, 3, -4]) },
        dtype: 'int16',
        shape: [2, 2],
      },
      {
        value: { dtype: 'float16', shape: [1, 3], data: new Float32Array([0.5, -1, 65504]) },
        dtype: 'float16',
        shape: [1, 3],
      },
      {
        value: { dtype: 'bool', shape: [3], data: new Uint8Array([1, 0, 1]) },
        dtype: 'bool',
        shape: [3],
      },
      {
        value: { dtype: 'uint8', shape: [2, 1], data: new Uint8Array([7, 9]) },
        dtype: 'uint8',
        shape: [2, 1],
      },
    ];
    for (const c of cases) {
      expect(isNpyValue(c.value)).toBe(true);
      const back = decodeNpy(npyBytes(c.value, 'x'));
      expect([back.dtype, back.shape]).toEqual([c.dtype, c.shape]);
      const data = ArrayBuffer.isView(c.value) ? c.value : c.value.data;
      expect(list(back.data)).toEqual(list(data));
    }
  });

  it('leaves bytes, plain arrays and objects to the other member kinds', () => {
    expect(isNpyValue(new Uint8Array(3))).toBe(false);
    expect(isNpyValue([1, 2])).toBe(false);
    expect(isNpyValue({ dtype: 'int8', shape: [2], data: [1, 2] })).toBe(false);
    expect(wdsMemberExtension('emb', new Float32Array(2))).toBe('emb.npy');
    expect(wdsMemberExtension('blob', new Uint8Array(2))).toBe('blob');
    expect(wdsMemberExtension('tags', [1, 2])).toBe('tags.json');
  });

  it('refuses a shape that does not fit the data', () => {
    const short = () => npyBytes({ dtype: 'int8', shape: [3], data: new Int8Array(2) }, 'emb');
    expect(short).toThrow(expect.objectContaining({ code: 'STREAMS_INVALID_ARGUMENT' }));
    expect(short).toThrow(/column "emb".*needs 3 values, got 2/);
  });
});

// NumPy writes and reads the fixtures at test time: the other WebDataset readers are Python ones.
const PY_WRITE = `
import json, sys, numpy as np
d = sys.argv[1]
arrays = {"a": np.arange(12, dtype=np.float32).reshape(3, 4) / 4, "b": np.array([[1, -2], [3, 2**40]], dtype=">i8"), "c": np.array([True, False])}
for k, a in arrays.items(): np.save(f"{d}/{k}.npy", a)
print(json.dumps({k: {"shape": list(a.shape), "values": a.ravel().tolist()} for k, a in arrays.items()}))
`;
const PY_READ = `
import io, json, sys, tarfile, numpy as np
out = {}
with tarfile.open(sys.argv[1]) as t:
    for m in t.getmembers():
        if m.name.endswith(".npy"):
            a = np.load(io.BytesIO(t.extractfile(m).read()), allow_pickle=False)
            out[m.name] = {"dtype": str(a.dtype), "shape": list(a.shape), "values": a.ravel().tolist()}
print(json.dumps(out))
`;

describe('WebDataset .npy members', () => {
  it('reads members written by numpy.save, and numpy.load reads the members we write', async () => {
    const want = JSON.parse(
      execFileSync(numpyPython(), ['-c', PY_WRITE, tmp.dir], { encoding: 'utf8' }),
    );
    const members = await Promise.all(
      ['a', 'b', 'c'].map(async (k) => ({
        ext: `${k}.npy`,
        data: new Uint8Array(await readFile(join(tmp.dir, `${k}.npy`))),
      })),
    );
    const s = wdsSampleOf({ key: 's0', members }, 'file:///x.tar');
    type Nd = { dtype: string; shape: number[]; data: ArrayLike<number | bigint> };
    expect((s['a.npy'] as Nd).dtype).toBe('float32');
    expect((s['a.npy'] as Nd).data).toBeInstanceOf(Float32Array);
    expect((s['b.npy'] as Nd).data).toBeInstanceOf(BigInt64Array);
    expect((s['c.npy'] as Nd).dtype).toBe('bool');
    for (const k of ['a', 'b', 'c']) {
      const got = s[`${k}.npy`] as Nd;
      expect(got.shape).toEqual(want[k].shape);
      expect(list(got.data).map(Number)).toEqual(want[k].values.map(Number));
    }

    const out = join(tmp.dir, 'wds');
    const w = new WdsWriter({ out });
    await w.write({
      __key__: 'k0',
      emb: new Float32Array([0.25, -1]),
      img: { dtype: 'uint16', shape: [2, 3], data: new Uint16Array([1, 2, 3, 4, 5, 65535]) },
      half: { dtype: 'float16', shape: [2], data: new Float32Array([0.5, -2]) },
    });
    const [shard] = await w.finish();
    const read = JSON.parse(
      execFileSync(numpyPython(), ['-c', PY_READ, join(out, shard as string)], {
        encoding: 'utf8',
      }),
    );
    expect(read).toEqual({
      'k0.emb.npy': { dtype: 'float32', shape: [2], values: [0.25, -1] },
      'k0.img.npy': { dtype: 'uint16', shape: [2, 3], values: [1, 2, 3, 4, 5, 65535] },
      'k0.half.npy': { dtype: 'float16', shape: [2], values: [0.5, -2] },
    });
  });

  it('MDS ndarray columns -> WebDataset -> openDataset keep dtype, shape and values', async () => {
    const mds = join(tmp.dir, 'mds');
    const w = new MdsWriter({
      out: mds,
      columns: { x: 'ndarray:float32:2,3', y: 'ndarray', n: 'int' },
    });
    for (let i = 0; i < 5; i++)
      await w.write({
        x: {
          dtype: 'float32',
          shape: [2, 3],
          data: Float32Array.from({ length: 6 }, (_, j) => i + j / 8),
        },
        y: {
          dtype: 'int64',
          shape: [i + 1],
          data: BigInt64Array.from({ length: i + 1 }, (_, j) => BigInt(j - i) * 2n ** 40n),
        },
        n: i,
      });
    await w.finish();
    await convertDataset(mds, { out: join(tmp.dir, 'wds'), format: 'wds' });
    await using a = await openMdsDataset(mds);
    await using b = await openDataset(join(tmp.dir, 'wds'));
    const want = await collect(a.samples());
    const got = await collect(b.samples());
    expect(got.length).toBe(5);
    got.forEach((s, i) => {
      expect(Object.keys(s).sort()).toEqual(['__key__', '__url__', 'n.json', 'x.npy', 'y.npy']);
      expect(s['x.npy']).toEqual(want[i]?.x);
      expect((s['x.npy'] as { data: unknown }).data).toBeInstanceOf(Float32Array);
      expect(s['y.npy']).toEqual(want[i]?.y);
      expect((s['y.npy'] as { data: unknown }).data).toBeInstanceOf(BigInt64Array);
    });
  });

  it('bool .npy members (numpy.save) -> MDS are uint8 arrays of 0 and 1 (MDS has no bool dtype)', async () => {
    const PY_BOOL = `
import io, sys, tarfile, numpy as np
with tarfile.open(sys.argv[1], 'w') as t:
    for i in range(3):
        b = io.BytesIO(); np.save(b, np.array([[True, False, bool(i % 2)], [False, True, True]]))
        for name, data in ((f's{i}.mask.npy', b.getvalue()), (f's{i}.cls', str(i).encode())):
            ti = tarfile.TarInfo(name); ti.size = len(data); t.addfile(ti, io.BytesIO(data))
`;
    const tar = join(tmp.dir, 'masks.tar');
    execFileSync(numpyPython(), ['-c', PY_BOOL, tar]);
    const mds = join(tmp.dir, 'mds');
    await convertDataset(tar, { out: mds, format: 'mds' });
    const index = JSON.parse(await readFile(join(mds, 'index.json'), 'utf8'));
    const enc = index.shards[0].column_encodings[index.shards[0].column_names.indexOf('mask.npy')];
    expect(enc).toMatch(/^ndarray/);
    await using back = await openMdsDataset(mds);
    const got = await collect(back.samples());
    expect(got.map((s) => s.cls)).toEqual([0, 1, 2]);
    got.forEach((s, i) => {
      const m = s['mask.npy'] as { dtype: string; shape: number[]; data: Uint8Array };
      expect(m.dtype).toBe('uint8');
      expect(m.shape).toEqual([2, 3]);
      expect([...m.data]).toEqual([1, 0, i % 2, 0, 1, 1]);
    });
  });

  it('a corrupt .npy member is STREAMS_DECODE_FAILED naming the member and the shard', async () => {
    const good = npyBytes(new Int32Array([1, 2, 3]), 'v');
    const bad = Uint8Array.from(good);
    bad.set(new TextEncoder().encode("'shape': (x,"), 50);
    await writeFile(join(tmp.dir, 'bad.tar'), makeTar([{ name: 's1.v.npy', data: bad }]));
    await using ds = await openDataset(join(tmp.dir, 'bad.tar'));
    const e = await collect(ds.samples()).catch((err: unknown) => err);
    expect(isStreamsError(e, 'STREAMS_DECODE_FAILED')).toBe(true);
    expect(String(e)).toContain('member "s1.v.npy"');
    expect((e as { url?: string }).url).toContain('bad.tar');
    expect(String(e).match(/Fix:/g)?.length).toBe(1);
    await using raw = await openDataset(join(tmp.dir, 'bad.tar'), { decode: 'raw' });
    expect((await collect(raw.samples()))[0]?.['v.npy']).toEqual(bad);
  });

  it('random member bytes raise only StreamsErrors', () => {
    const r = rng(7);
    const good = npyBytes({ dtype: 'float64', shape: [2, 2], data: new Float64Array(4) }, 'v');
    for (let i = 0; i < 2000; i++) {
      const data =
        i % 2 === 0
          ? Uint8Array.from({ length: r.int(150) + 1 }, () => r.int(256))
          : Uint8Array.from(good, (b) => (r.int(40) === 0 ? r.int(256) : b));
      try {
        wdsSampleOf({ key: 'k', members: [{ ext: 'v.npy', data }] }, 'file:///f.tar');
      } catch (e) {
        expect(isStreamsError(e), String(e)).toBe(true);
        expect(String(e)).toContain('member "k.v.npy"');
      }
    }
  });
});
