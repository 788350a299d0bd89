import { describe, expect, it } from 'vitest';
import { DTYPES, float16ToFloat32, float32ToFloat16, isDtype } from './dtype.js';

describe('dtype table', () => {
  it('byte widths match the decoded arrays, except float16 which widens to float32', () => {
    for (const [name, info] of Object.entries(DTYPES)) {
      const width = new info.array(new ArrayBuffer(8)).BYTES_PER_ELEMENT;
      expect(width, name).toBe(name === 'float16' ? 4 : info.bytes);
      expect(info.npy, name).toBe(`${name[0]}${info.bytes}`);
    }
    expect(DTYPES.float16.bytes).toBe(2);
  });

  it('isDtype accepts the table names only', () => {
    expect(isDtype('float32')).toBe(true);
    expect(isDtype('bool')).toBe(false);
    expect(isDtype('constructor')).toBe(false);
  });

  it('converts float16 both ways like numpy', () => {
    expect(float32ToFloat16(1)).toBe(0x3c00);
    expect(float32ToFloat16(65504)).toBe(0x7bff);
    expect(float32ToFloat16(65520)).toBe(0x7c00);
    expect(float32ToFloat16(0.1)).toBe(0x2e66);
    expect(float32ToFloat16(6e-8)).toBe(1);
    expect(float32ToFloat16(Number.NEGATIVE_INFINITY)).toBe(0xfc00);
    expect(float16ToFloat32(0x0001)).toBe(2 ** -24);
    expect(float16ToFloat32(0xc000)).toBe(-2);
    expect(Number.isNaN(float16ToFloat32(0x7e00))).toBe(true);
    for (let h = 0; h < 0x7c00; h += 37) expect(float32ToFloat16(float16ToFloat32(h))).toBe(h);
  });
});
