import { StreamsError } from '@streams/core';

/** How a decoded clip is laid out: `THWC` (as decoded), `TCHW` or `CTHW` (video models). */
export interface VideoOutputOptions {
  /** `uint8` (default) or `float32` ((x * scale - mean) / std). */
  dtype?: 'uint8' | 'float32';
  /** Default `THWC`. */
  layout?: 'THWC' | 'TCHW' | 'CTHW';
  /** Per-channel mean (float32 only), e.g. Kinetics `[0.45, 0.45, 0.45]`. */
  mean?: readonly number[];
  /** Per-channel std (float32 only), e.g. `[0.225, 0.225, 0.225]`. */
  std?: readonly number[];
  /** Multiplier before mean/std (float32 only). Default 1/255. */
  scale?: number;
}

/** A laid-out clip. */
export interface VideoTensor {
  data: Uint8Array | Float32Array;
  shape: number[];
  dtype: 'uint8' | 'float32';
  layout: 'THWC' | 'TCHW' | 'CTHW';
}

/**
 * Converts a `[T, H, W, C]` uint8 clip to the requested dtype and layout in one pass (CPU-bound
 * JS: run it in a `TransformPool` for large clips). `THWC` uint8 returns the input as is.
 */
export function layoutVideo(
  data: Uint8Array, // [T, H, W, C]
  shape: readonly number[],
  output: VideoOutputOptions = {},
): VideoTensor {
  const [T, H, W, C] = shape as [number, number, number, number];
  if (shape.length !== 4 || data.length !== T * H * W * C) {
    throw new StreamsError(
      'STREAMS_INVALID_ARGUMENT',
      `[streams/transforms] a clip of ${data.length} bytes is not [T, H, W, C] ${JSON.stringify(shape)}`,
    );
  }
  const layout = output.layout ?? 'THWC';
  const dtype = output.dtype ?? 'uint8';
  const outShape =
    layout === 'THWC' ? [T, H, W, C] : layout === 'TCHW' ? [T, C, H, W] : [C, T, H, W];
  if (dtype === 'uint8' && (output.mean || output.std)) {
    throw new StreamsError(
      'STREAMS_INVALID_ARGUMENT',
      '[streams/transforms] mean/std need output dtype float32',
      {
        fix: "set output.dtype to 'float32'",
      },
    );
  }
  if (dtype === 'uint8' && layout === 'THWC') return { data, shape: outShape, dtype, layout };
  const scale = output.scale ?? 1 / 255;
  const a = new Float64Array(C); // [C]
  const b = new Float64Array(C); // [C]
  for (let c = 0; c < C; c++) {
    const mean = dtype === 'float32' ? channelValue(output.mean, c, 0) : 0;
    const std = dtype === 'float32' ? channelValue(output.std, c, 1) : 1;
    if (std === 0)
      throw new StreamsError(
        'STREAMS_INVALID_ARGUMENT',
        '[streams/transforms] output.std must not be 0',
      );
    a[c] = dtype === 'float32' ? scale / std : 1;
    b[c] = -mean / std;
  }
  const n = T * H * W * C;
  const out = dtype === 'float32' ? new Float32Array(n) : new Uint8Array(n); // laid out as outShape
  const HW = H * W;
  for (let t = 0; t < T; t++) {
    for (let c = 0; c < C; c++) {
      const ac = a[c]!;
      const bc = b[c]!;
      // Destination of plane (t, c) and the source stride over pixels.
      const dst = layout === 'THWC' ? -1 : layout === 'TCHW' ? (t * C + c) * HW : (c * T + t) * HW;
      const src = t * HW * C + c;
      if (dst === -1) {
        for (let i = 0, j = src; i < HW; i++, j += C) out[j] = data[j]! * ac + bc;
      } else {
        for (let i = 0, j = src; i < HW; i++, j += C) out[dst + i] = data[j]! * ac + bc;
      }
    }
  }
  return { data: out, shape: outShape, dtype, layout };
}

function channelValue(values: readonly number[] | undefined, c: number, dflt: number): number {
  if (!values) return dflt;
  return values.length === 1 ? values[0]! : (values[c] ?? values[0] ?? dflt);
}
