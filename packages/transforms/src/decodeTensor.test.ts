import { isStreamsError } from '@streams/core';
import { describe, expect, it } from 'vitest';
import {
  decodeMdsNdarray,
  decodeNpy,
  decodeSafetensors,
  float16ToFloat32,
} from './decodeTensor.js';
import type { TypedArray } from './tensor.js';

const list = (a: TypedArray) => Array.from(a as ArrayLike<number | bigint>);
const hex = (h: string) => Uint8Array.from(Buffer.from(h, 'hex'));
// Written by numpy 2.4 `np.save` (goldens: the exact bytes numpy produces).
const golden = {
  f16: '934e554d5059010076007b276465736372273a20273c6632272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c2032292c207d202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a003e00c0662eff7b',
  i4be: '934e554d5059010076007b276465736372273a20273e6934272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028332c292c207d2020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a00000001fffffffe000493e0',
  bool: '934e554d5059010076007b276465736372273a20277c6231272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028332c292c207d2020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a010001',
  fortran:
    '934e554d5059010076007b276465736372273a20273c6634272c2027666f727472616e5f6f72646572273a20547275652c20277368617065273a2028322c2033292c207d20202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a00000000000040400000803f00008040000000400000a040',
  u8be: '934e554d5059010076007b276465736372273a20273e7538272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c292c207d2020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a80000000000000050000000000000007',
  f8scalar:
    '934e554d5059010076007b276465736372273a20273c6638272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028292c207d20202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a0000000000000a40',
  object:
    '934e554d5059010076007b276465736372273a20277c4f272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c292c207d202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a',
};

/** A minimal npy v1 writer for the dtypes numpy writes natively here. */
function npy(descr: string, shape: number[], data: ArrayBufferView): Uint8Array {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 0xff, header.length >> 8]);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}

describe('decodeNpy', () => {
  it('reads numpy goldens: float16, big-endian int32 and uint64, bool, 0-d', () => {
    expect(golden.f16.length % 2).toBe(0);
    const f16 = decodeNpy(hex(golden.f16));
    expect(f16).toMatchObject({ dtype: 'float16', shape: [2, 2] });
    expect(list(f16.data)).toEqual([1.5, -2, 0.0999755859375, 65504]);
    const be = decodeNpy(hex(golden.i4be));
    expect(be.dtype).toBe('int32');
    expect(list(be.data)).toEqual([1, -2, 300000]);
    const u8 = decodeNpy(hex(golden.u8be));
    expect(Array.from(u8.data as BigUint64Array)).toEqual([2n ** 63n + 5n, 7n]);
    const b = decodeNpy(hex(golden.bool));
    expect(b).toMatchObject({ dtype: 'bool', shape: [3] });
    expect(list(b.data)).toEqual([1, 0, 1]);
    const s = decodeNpy(hex(golden.f8scalar));
    expect(s.shape).toEqual([]);
    expect(list(s.data)).toEqual([3.25]);
  });

  it.each([
    ['<i1', new Int8Array([-1, 2])],
    ['<u2', new Uint16Array([65535, 1])],
    ['<i2', new Int16Array([-300, 7])],
    ['<u4', new Uint32Array([4e9, 3])],
    ['<f4', new Float32Array([1.25, -0.5])],
    ['<f8', new Float64Array([Math.PI, -1])],
    ['<i8', new BigInt64Array([-5n, 2n ** 40n])],
  ])('reads %s little-endian as a zero-copy view when aligned', (descr, arr) => {
    const t = decodeNpy(npy(descr, [2], arr));
    expect(Array.from(t.data as ArrayLike<unknown>)).toEqual(Array.from(arr as ArrayLike<unknown>));
    expect(t.data.constructor).toBe(arr.constructor);
  });

  it('rejects Fortran order and object arrays with clear errors', () => {
    const f = (() => {
      try {
        decodeNpy(hex(golden.fortran));
      } catch (e) {
        return e;
      }
    })();
    expect(isStreamsError(f, 'STREAMS_UNSUPPORTED_ENCODING')).toBe(true);
    expect((f as Error).message).toMatch(/Fortran order.*ascontiguousarray/);
    expect(() => decodeNpy(hex(golden.object))).toThrow(/object arrays/);
    expect(() => decodeNpy(new Uint8Array([1, 2, 3]))).toThrow(/bad magic/);
    expect(() => decodeNpy(hex(golden.i4be).subarray(0, 130))).toThrow(/truncated/);
  });
});

describe('decodeSafetensors', () => {
  function safetensors(header: Record<string, unknown>, data: Uint8Array): Uint8Array {
    const json = new TextEncoder().encode(JSON.stringify(header));
    const out = new Uint8Array(8 + json.length + data.length);
    new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
    out.set(json, 8);
    out.set(data, 8 + json.length);
    return out;
  }

  it('reads tensors by name with dtype and shape, BF16 widened', () => {
    const w = new Float32Array([1, 2, 3, 4, 5, 6]); // [2, 3]
    const ids = new BigInt64Array([9n]);
    const bf16 = new Uint16Array([0x3fc0, 0xc000]); // 1.5, -2
    const data = new Uint8Array(24 + 8 + 4);
    data.set(new Uint8Array(w.buffer), 0);
    data.set(new Uint8Array(ids.buffer), 24);
    data.set(new Uint8Array(bf16.buffer), 32);
    const file = decodeSafetensors(
      safetensors(
        {
          __metadata__: { format: 'pt' },
          w: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] },
          ids: { dtype: 'I64', shape: [1], data_offsets: [24, 32] },
          h: { dtype: 'BF16', shape: [2], data_offsets: [32, 36] },
        },
        data,
      ),
    );
    expect(file.metadata).toEqual({ format: 'pt' });
    expect(file.tensors.w).toMatchObject({ dtype: 'float32', shape: [2, 3] });
    expect(list(file.tensors.w!.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(file.tensors.ids!.data as BigInt64Array)).toEqual([9n]);
    expect(list(file.tensors.h!.data)).toEqual([1.5, -2]);
  });

  it('rejects offsets that disagree with the shape', () => {
    const bad = safetensors(
      { w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } },
      new Uint8Array(8),
    );
    expect(() => decodeSafetensors(bad)).toThrow(/do not match shape/);
  });
});

describe('decodeMdsNdarray', () => {
  it('reads dynamic dtype + shape, static dtype, and static dtype + shape', () => {
    // dtype code 34 (float32), ndim 2 with uint8 shape dims (byte = 2 << 2 | 0), shape [2, 3].
    const values = new Float32Array([0, 1, 2, 3, 4, 5]);
    const dyn = new Uint8Array([34, 8, 2, 3, ...new Uint8Array(values.buffer)]);
    const a = decodeMdsNdarray(dyn, 'ndarray');
    expect(a).toMatchObject({ dtype: 'float32', shape: [2, 3] });
    expect(list(a.data)).toEqual([0, 1, 2, 3, 4, 5]);
    // Static dtype, shape [300] with uint16 dims (byte = 1 << 2 | 1).
    const i16 = new Int16Array(300).map((_, i) => i - 150);
    const b = decodeMdsNdarray(
      new Uint8Array([5, 44, 1, ...new Uint8Array(i16.buffer)]),
      'ndarray:int16',
    );
    expect(b.shape).toEqual([300]);
    expect(b.data[0]).toBe(-150);
    const c = decodeMdsNdarray(new Uint8Array(values.buffer), 'ndarray:float32:3,2');
    expect(c.shape).toEqual([3, 2]);
    const f16 = decodeMdsNdarray(new Uint8Array([0x00, 0x3e]), 'ndarray:float16:1');
    expect(list(f16.data)).toEqual([1.5]);
    expect(() => decodeMdsNdarray(new Uint8Array(7), 'ndarray:float32:2')).toThrow(/expected 8/);
  });

  it('converts halves exactly', () => {
    expect(float16ToFloat32(0x7c00)).toBe(Number.POSITIVE_INFINITY);
    expect(float16ToFloat32(0x0001)).toBe(2 ** -24);
    expect(float16ToFloat32(0xc000)).toBe(-2);
  });
});

describe('tensors preset', () => {
  it('decodes npy, safetensors and MDS ndarray fields, and passes decoded ndarrays through', async () => {
    const { tensors } = await import('./presets.js');
    const { rng } = await import('@streams/core');
    const { decodeTensorBytes } = await import('./decodeTensor.js');
    const half = new Uint8Array([0x00, 0x3e]); // float16 1.5
    const decoded = { data: new Float32Array([7]), shape: [1], dtype: 'float32' };
    const prep = tensors({
      fields: { latent: 'latent.npy', emb: 'emb', pre: 'pre' },
      encodings: { emb: 'ndarray:float16:1' },
    });
    const out = await prep({ 'latent.npy': hex(golden.i4be), emb: half, pre: decoded }, rng(0));
    expect(out.latent?.shape).toEqual([3]);
    expect(list(out.latent!.data)).toEqual([1, -2, 300000]);
    expect(list(out.emb!.data)).toEqual([1.5]);
    expect(out.pre).toBe(decoded);
    expect(decodeTensorBytes(hex(golden.bool)).dtype).toBe('bool');
  });
});
