import { describe, expect, it } from 'vitest';
import { floatToHalf, halfToFloat, mdsCoder } from './mdsEncodings.js';

function roundTrip(encoding: string, value: unknown): unknown {
  const c = mdsCoder(encoding, 'col');
  const bytes = c.encode(value);
  if (c.size !== null) expect(bytes.length).toBe(c.size);
  return c.decode(
    bytes,
    0,
    bytes.length,
    new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength),
  );
}

describe('MDS encodings', () => {
  it('round-trips scalars at their limits', () => {
    const cases: [string, unknown][] = [
      ['uint8', 255],
      ['int8', -128],
      ['uint16', 65535],
      ['int16', -32768],
      ['uint32', 4294967295],
      ['int32', -2147483648],
      ['float32', 0.5],
      ['float64', Math.PI],
      ['float16', -2.5],
      ['int', -(2 ** 53) + 1],
      ['int64', 2n ** 63n - 1n],
      ['uint64', 2n ** 64n - 1n],
      ['str_int', 10n ** 30n],
      ['str_int', 42],
      ['str_float', 1e-7],
      ['str_decimal', '3.14159265358979323846264338327950288'],
      ['str', 'héllo ✓'],
      ['json', { a: [1, 'x', null], b: { c: 2.5 } }],
    ];
    for (const [enc, v] of cases) expect(roundTrip(enc, v), enc).toEqual(v);
  });

  it('encodes like numpy/Python: int64 little endian, str_float as Python repr', () => {
    expect([...mdsCoder('int').encode(-2)]).toEqual([254, 255, 255, 255, 255, 255, 255, 255]);
    expect(new TextDecoder().decode(mdsCoder('str_float').encode(1))).toBe('1.0');
    expect(new TextDecoder().decode(mdsCoder('str_float').encode(1e-5))).toBe('1e-05');
    expect(new TextDecoder().decode(mdsCoder('json').encode({ i: 1, t: ['é'] }))).toBe(
      '{"i": 1, "t": ["\\u00e9"]}',
    );
  });

  it('rejects out-of-range and mistyped values naming the column', () => {
    expect(() => mdsCoder('uint8', 'px').encode(256)).toThrow(/column "px".*out of range/);
    expect(() => mdsCoder('int32', 'n').encode('x')).toThrow(/column "n"/);
    expect(() => mdsCoder('str', 's').encode(3)).toThrow(/expected a string/);
  });

  it('fails clearly on pkl, naming the column', () => {
    expect(() => mdsCoder('pkl', 'obj')).toThrow(/column "obj".*pkl.*pickle/);
    try {
      mdsCoder('pkl', 'obj');
    } catch (e) {
      expect((e as { code: string }).code).toBe('STREAMS_UNSUPPORTED_ENCODING');
    }
    expect(() => mdsCoder('nope', 'c')).toThrow(/unknown MDS encoding "nope"/);
  });

  it('ndarray with dynamic dtype and shape uses the MosaicML header', () => {
    const c = mdsCoder('ndarray');
    const bytes = c.encode({
      dtype: 'uint16',
      shape: [2, 300],
      data: new Uint16Array(600).fill(7),
    });
    expect(bytes[0]).toBe(16); // uint16 code
    expect(bytes[1]).toBe((2 << 2) | 1); // 2 dims, shape stored as uint16 (300 > 255)
    expect([...bytes.subarray(2, 6)]).toEqual([2, 0, 44, 1]);
    expect(bytes.length).toBe(6 + 1200);
    const back = roundTrip('ndarray', {
      dtype: 'uint16',
      shape: [2, 300],
      data: new Uint16Array(600).fill(7),
    }) as {
      shape: number[];
      data: Uint16Array;
    };
    expect(back.shape).toEqual([2, 300]);
    expect(back.data).toBeInstanceOf(Uint16Array);
  });

  it('ndarray with static dtype and/or shape', () => {
    const fixed = mdsCoder('ndarray:float32:2,3');
    expect(fixed.size).toBe(24);
    const v = { dtype: 'float32', shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) };
    expect(roundTrip('ndarray:float32:2,3', v)).toEqual(v);
    expect(fixed.encode(v).length).toBe(24);
    const dyn = mdsCoder('ndarray:int64');
    expect(dyn.size).toBeNull();
    const w = { dtype: 'int64', shape: [3], data: new BigInt64Array([1n, -2n, 3n]) };
    expect(roundTrip('ndarray:int64', w)).toEqual(w);
    expect(() =>
      fixed.encode({ dtype: 'float32', shape: [3, 2], data: new Float32Array(6) }),
    ).toThrow(/wrong shape/);
    expect(() =>
      fixed.encode({ dtype: 'float64', shape: [2, 3], data: new Float64Array(6) }),
    ).toThrow(/wrong dtype/);
    const h = roundTrip('ndarray:float16', { dtype: 'float16', shape: [2], data: [0.5, -1] }) as {
      data: Float32Array;
    };
    expect([...h.data]).toEqual([0.5, -1]);
  });

  it('float16 conversions round to nearest even like numpy', () => {
    expect(floatToHalf(1)).toBe(0x3c00);
    expect(floatToHalf(65504)).toBe(0x7bff);
    expect(floatToHalf(65520)).toBe(0x7c00);
    expect(floatToHalf(0.1)).toBe(0x2e66);
    expect(floatToHalf(6e-8)).toBe(1);
    expect(floatToHalf(1e-8)).toBe(0);
    expect(floatToHalf(Number.NEGATIVE_INFINITY)).toBe(0xfc00);
    expect(halfToFloat(0x7bff)).toBe(65504);
    expect(Number.isNaN(halfToFloat(0x7e00))).toBe(true);
    for (let h = 0; h < 0x7c00; h += 37) expect(floatToHalf(halfToFloat(h))).toBe(h);
  });

  it('images stay encoded bytes; pil keeps size and mode', () => {
    const jpeg = new Uint8Array([0xff, 0xd8, 0xff, 0xd9]);
    expect(roundTrip('jpeg', jpeg)).toEqual({ format: 'jpeg', bytes: jpeg });
    expect(roundTrip('jpeg:90', jpeg)).toEqual({ format: 'jpeg', bytes: jpeg });
    expect(roundTrip('png', jpeg)).toEqual({ format: 'png', bytes: jpeg });
    const pil = {
      format: 'pil',
      mode: 'RGB',
      width: 2,
      height: 1,
      bytes: new Uint8Array(6).fill(9),
    };
    expect(roundTrip('pil', pil)).toEqual(pil);
  });
});
