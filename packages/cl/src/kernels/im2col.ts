import {
  type backend_util,
  gatherND,
  keep,
  type Tensor,
  type Tensor2D,
  tensor2d,
} from '@tensorflow/tfjs-core';

/** The windows of a convolution over 2 or 3 spatial axes (channels last). */
export interface Windows {
  batch: number;
  /** Output size per spatial axis. */
  out: readonly number[];
  strides: readonly number[];
  /** Filter size per spatial axis. */
  kernel: readonly number[];
  dilations: readonly number[];
  /** Zero padding before the input on each axis (front/top/left). */
  padBefore: number[];
  /** Extent of the padded input the windows read on each axis. */
  span: number[];
}

/** The windows of the convolution `c` describes, as tfjs computes its geometry. */
export function convWindows(c: backend_util.Conv2DInfo | backend_util.Conv3DInfo): Windows {
  const is3d = 'outDepth' in c;
  const out = is3d ? [c.outDepth, c.outHeight, c.outWidth] : [c.outHeight, c.outWidth];
  const strides = is3d
    ? [c.strideDepth, c.strideHeight, c.strideWidth]
    : [c.strideHeight, c.strideWidth];
  const kernel = is3d
    ? [c.filterDepth, c.filterHeight, c.filterWidth]
    : [c.filterHeight, c.filterWidth];
  const dilations = is3d
    ? [c.dilationDepth, c.dilationHeight, c.dilationWidth]
    : [c.dilationHeight, c.dilationWidth];
  const padBefore = is3d
    ? [c.padInfo.front, c.padInfo.top, c.padInfo.left]
    : [c.padInfo.top, c.padInfo.left];
  return {
    batch: c.batchSize,
    out,
    strides,
    kernel,
    dilations,
    padBefore,
    span: out.map((o, a) => (o - 1) * strides[a]! + (kernel[a]! - 1) * dilations[a]! + 1),
  };
}

/**
 * im2col: the input values every (output position, filter tap) pair reads, one row each
 * [n * taps, channels], gathered from `padded` [batch, ...w.span, channels] (spatialWindow
 * makes it). One gatherND instead of a strided slice per tap.
 */
export function gatherTaps(padded: Tensor, w: Windows): Tensor2D {
  return gatherND(padded, tapTensor(w)) as Tensor2D;
}

/**
 * {@link tapIndices} as an int32 tensor [n * taps, 1 + spatial axes], for gatherND/scatterND.
 * Kept and reused per geometry (training asks for the same few, and uploading the indices cost
 * as much as the gather): a bounded number of tensors that live as long as the process.
 */
export function tapTensor(w: Windows): Tensor2D {
  const key = [w.batch, w.out, w.strides, w.kernel, w.dilations].join('|');
  const hit = tensors.get(key);
  if (hit && !hit.isDisposed) return hit;
  const at = tapIndices(w);
  const t = keep(tensor2d(at, [at.length / (w.out.length + 1), w.out.length + 1], 'int32'));
  if (tensors.size >= 16) {
    const [oldest, old] = tensors.entries().next().value!;
    old.dispose();
    tensors.delete(oldest);
  }
  tensors.set(key, t);
  return t;
}

const tensors = new Map<string, Tensor2D>();

/**
 * Where each (output position, filter tap) pair of the windows reads its input: rows
 * [batch, ...position] into the padded input [batch, ...span, channels], one per output
 * position (row-major, batch first) and tap (row-major).
 */
export function tapIndices({ batch, out, strides, kernel, dilations }: Windows): Int32Array {
  const rank = out.length;
  const outCount = out.reduce((a, b) => a * b, 1);
  const taps = kernel.reduce((a, b) => a * b, 1);
  const rows = new Int32Array(batch * outCount * taps * (rank + 1)); // [n * taps, 1 + rank]
  const o = new Array<number>(rank).fill(0);
  const k = new Array<number>(rank).fill(0);
  let r = 0;
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < outCount; i++) {
      unravel(i, out, o);
      for (let t = 0; t < taps; t++) {
        unravel(t, kernel, k);
        rows[r++] = b;
        for (let a = 0; a < rank; a++) rows[r++] = o[a]! * strides[a]! + k[a]! * dilations[a]!;
      }
    }
  }
  return rows;
}

function unravel(index: number, shape: readonly number[], into: number[]): void {
  for (let a = shape.length - 1; a >= 0; a--) {
    into[a] = index % shape[a]!;
    index = Math.floor(index / shape[a]!);
  }
}
