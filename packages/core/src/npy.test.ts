import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DTYPES } from './dtype.js';
import { isStreamsError } from './errors.js';
import { decodeNpy, encodeNpy, type NpyDtype } from './npy.js';
import { rng } from './prng.js';

// Fixtures are written by real NumPy at test time: STREAMS_PYTHON, else python3 on PATH, else
// Debian's /usr/bin/python3 (scripts/setup.sh installs python3-numpy when no python3 has NumPy).
// The same lookup as @streams/testkit's numpyPython, which core's tests cannot import.
const PYTHON =
  [process.env.STREAMS_PYTHON, 'python3', '/usr/bin/python3'].find((py) => {
    if (!py) return false;
    try {
      execFileSync(py, ['-c', 'import numpy'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  }) ?? 'python3';
const WRITE = `
import json, sys, numpy as np
d = sys.argv[1]
out = {}
def save(name, a, version=None):
    with open(f"{d}/{name}.npy", "wb") as f:
        if version is None: np.save(f, a)
        else: np.lib.format.write_array(f, a, version=version)
    out[name] = {"shape": list(a.shape), "values": np.asarray(a).ravel(order="C").tolist(), "itemsize": a.dtype.itemsize}
for dt in ["uint8", "int8", "uint16", "int16", "float16", "uint32", "int32", "float32", "uint64", "int64", "float64", "bool"]:
    a = np.array([[0, 1, 2], [3, 4, 5]]).astype(dt)
    if dt[0] in "if": a[0, 1] = -1
    if dt[0] == "f": a[1, 2] = 0.5
    save(dt, a)
save("vec", np.arange(7, dtype=np.int16))
save("big_i4", np.array([[1, -2], [300000, 4]], dtype=">i4"))
save("big_f8", np.array([1.5, -2.25, 1e300], dtype=">f8"))
save("big_u8", np.array([2**64 - 1, 5], dtype=">u8"))
save("scalar", np.array(3.5))
save("v2", np.arange(5, dtype=np.float32), (2, 0))
save("v3", np.arange(4, dtype=np.uint8).reshape(2, 2), (3, 0))
save("fortran", np.asfortranarray(np.arange(6, dtype=np.int32).reshape(2, 3)))
save("empty", np.zeros((0, 3), dtype=np.float32))
print(json.dumps(out))
`;

const dir = mkdtempSync(join(tmpdir(), 'npy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const want = JSON.parse(execFileSync(PYTHON, ['-c', WRITE, dir], { encoding: 'utf8' })) as Record<
  string,
  { shape: number[]; values: (number | boolean)[]; itemsize: number }
>;
const file = (name: string) => new Uint8Array(readFileSync(join(dir, `${name}.npy`)));
const values = (a: ArrayLike<number | bigint>) => Array.from(a, (x) => Number(x));
const list = (a: ArrayLike<number | bigint>) => Array.from(a);
const caught = (f: () => unknown): unknown => {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
};

describe('decodeNpy on files written by NumPy', () => {
  const dtypes: NpyDtype[] = [...(Object.keys(DTYPES) as NpyDtype[]), 'bool'];
  it.each(dtypes)('%s: dtype, shape and values', (dtype) => {
    const got = decodeNpy(file(dtype));
    const w = want[dtype]!;
    expect(got.dtype).toBe(dtype);
    expect(got.shape).toEqual(w.shape);
    expect(values(got.data)).toEqual(w.values.map(Number));
    const array = dtype === 'bool' ? Uint8Array : DTYPES[dtype].array;
    expect(got.data).toBeInstanceOf(array);
  });

  it('converts big-endian data, reads versions 2.0 and 3.0, 0-d and empty arrays', () => {
    const i4 = decodeNpy(file('big_i4'));
    expect([i4.dtype, i4.shape, values(i4.data)]).toEqual(['int32', [2, 2], [1, -2, 300000, 4]]);
    expect(list(decodeNpy(file('big_f8')).data)).toEqual([1.5, -2.25, 1e300]);
    expect(list(decodeNpy(file('big_u8')).data)).toEqual([2n ** 64n - 1n, 5n]);
    expect(decodeNpy(file('scalar'))).toMatchObject({ shape: [], dtype: 'float64' });
    expect(list(decodeNpy(file('scalar')).data)).toEqual([3.5]);
    expect(values(decodeNpy(file('v2')).data)).toEqual([0, 1, 2, 3, 4]);
    expect(decodeNpy(file('v3'))).toMatchObject({ shape: [2, 2], dtype: 'uint8' });
    expect(decodeNpy(file('empty'))).toMatchObject({ shape: [0, 3], dtype: 'float32' });
  });

  it('refuses Fortran order with a fix', () => {
    const e = caught(() => decodeNpy(file('fortran')));
    expect(isStreamsError(e, 'STREAMS_UNSUPPORTED_ENCODING')).toBe(true);
    expect((e as { fix?: string }).fix).toMatch(/ascontiguousarray/);
  });
});

describe('encodeNpy', () => {
  it.each([
    ...(Object.keys(DTYPES) as NpyDtype[]),
    'bool',
    'vec',
    'scalar',
  ])('writes the bytes numpy.save writes (%s)', (name) => {
    const bytes = file(name);
    const w = want[name]!;
    const dataBytes = w.values.length * w.itemsize;
    const dtype = decodeNpy(bytes).dtype;
    const data = bytes.subarray(bytes.length - dataBytes);
    expect(Buffer.from(encodeNpy(dtype, w.shape, data)).equals(Buffer.from(bytes))).toBe(true);
  });

  it('switches to version 2.0 when the header outgrows 64 KiB and reads it back', () => {
    const shape = Array.from({ length: 30_000 }, () => 1); // [1, 1, ..., 1]
    const bytes = encodeNpy('int8', shape, new Uint8Array([7]));
    expect(bytes[6]).toBe(2);
    expect(decodeNpy(bytes)).toMatchObject({ dtype: 'int8', shape });
  });
});

describe('decodeNpy on bad input', () => {
  const good = () => file('int32');
  const withHeader = (header: string) => {
    const padded = `${header.padEnd(117, ' ')}\n`;
    const b = new Uint8Array(128 + 24);
    b.set(good().subarray(0, 8));
    new DataView(b.buffer).setUint16(8, padded.length, true);
    b.set(new TextEncoder().encode(padded), 10);
    return b;
  };

  it.each([
    ['bad magic', new Uint8Array([1, 2, 3])],
    ['truncated data', good().subarray(0, 130)],
    ['truncated header', good().subarray(0, 40)],
    ['no dict', withHeader("'descr': '<i4'")],
    ['no shape', withHeader("{'descr': '<i4', 'fortran_order': False, }")],
    [
      'shape not numbers',
      withHeader("{'descr': '<i4', 'fortran_order': False, 'shape': (a, 3), }"),
    ],
    ['no fortran_order', withHeader("{'descr': '<i4', 'shape': (2, 3), }")],
    ['unknown dtype', withHeader("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }")],
    ['object array', withHeader("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }")],
    ['version 9', Uint8Array.from([...good().subarray(0, 6), 9, 0, ...good().subarray(8)])],
  ])('%s is a StreamsError with a fix', (_name, bytes) => {
    const e = caught(() => decodeNpy(bytes));
    expect(isStreamsError(e)).toBe(true);
    expect((e as { fix?: string }).fix).toBeTruthy();
  });

  it('random and mutated bytes raise only StreamsErrors', () => {
    const r = rng(11);
    const base = good();
    let decoded = 0;
    for (let i = 0; i < 3000; i++) {
      const b =
        i % 2 === 0
          ? Uint8Array.from(base)
          : Uint8Array.from({ length: r.int(200) + 1 }, () => r.int(256));
      if (i % 2 === 0) for (let k = r.int(4) + 1; k > 0; k--) b[r.int(b.length)] = r.int(256);
      try {
        decodeNpy(i % 4 === 0 ? b.subarray(0, r.int(b.length) + 1) : b);
        decoded++;
      } catch (e) {
        if (!isStreamsError(e)) throw e;
      }
    }
    expect(decoded).toBeGreaterThan(0); // some mutations only touch values or padding
  });
});
