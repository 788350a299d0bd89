import { describe, expect, it } from 'vitest';
import { layoutVideo } from './layoutVideo.js';

describe('layoutVideo', () => {
  // [T=2, H=2, W=3, C=3]: value = 100*t + 10*(y*3+x) + c, so every element tells its position.
  const T = 2;
  const H = 2;
  const W = 3;
  const C = 3;
  const data = new Uint8Array(T * H * W * C);
  for (let t = 0; t < T; t++)
    for (let p = 0; p < H * W; p++)
      for (let c = 0; c < C; c++) data[(t * H * W + p) * C + c] = 100 * t + 10 * p + c;
  const shape = [T, H, W, C];

  it('keeps THWC uint8 as is and transposes to TCHW and CTHW', () => {
    expect(layoutVideo(data, shape).data).toBe(data);
    const tchw = layoutVideo(data, shape, { layout: 'TCHW' });
    expect(tchw.shape).toEqual([2, 3, 2, 3]);
    // (t=1, c=2, y=1, x=0) -> pixel p = 3
    expect(tchw.data[((1 * C + 2) * H + 1) * W + 0]).toBe(100 + 30 + 2);
    const cthw = layoutVideo(data, shape, { layout: 'CTHW' });
    expect(cthw.shape).toEqual([3, 2, 2, 3]);
    expect(cthw.data[((2 * T + 1) * H + 1) * W + 2]).toBe(100 + 50 + 2);
  });

  it('normalizes to float32 with per-channel mean and std', () => {
    const out = layoutVideo(data, shape, {
      dtype: 'float32',
      layout: 'CTHW',
      mean: [0.1, 0.2, 0.3],
      std: [0.5, 0.5, 0.25],
    });
    expect(out.data).toBeInstanceOf(Float32Array);
    const v = out.data[((1 * T + 0) * H + 0) * W + 1]!; // c=1, t=0, p=1 -> 11
    expect(v).toBeCloseTo((11 / 255 - 0.2) / 0.5, 6);
    const hwc = layoutVideo(data, shape, { dtype: 'float32' });
    expect(hwc.data[5]).toBeCloseTo(12 / 255, 6);
    expect(() => layoutVideo(data, [1, 2, 3, 3])).toThrow(/not \[T, H, W, C\]/);
    expect(() => layoutVideo(data, shape, { mean: [0.5] })).toThrow(/float32/);
  });
});
