import {
  backend_util,
  Conv2DBackpropFilter,
  type Conv2DBackpropFilterAttrs,
  conv2d,
  type KernelConfig,
  type Tensor4D,
  tidy,
  transpose,
} from '@tensorflow/tfjs-core';
import { spatialWindow } from './spatialWindow.js';

/**
 * `Conv2DBackpropFilter` for `wasm` (the gradient of conv2d, conv2dTranspose and conv1d with
 * respect to the filter), built from the backend's own Conv2D:
 * dW[kh,kw,ci,co] = sum over b,oh,ow of xpad[b, oh*sh + kh, ow*sw + kw, ci] * dy[b,oh,ow,co]
 * is a convolution of x (its channels as the batch, its batch as the channels) with dy as the
 * filter, at stride 1 and dilated by the forward stride.
 */
export const conv2DBackpropFilterConfig: KernelConfig = {
  kernelName: Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: ({ inputs, attrs }) => {
    const { x, dy } = inputs as unknown as { x: Tensor4D; dy: Tensor4D };
    const { strides, pad, dataFormat, dimRoundingMode, filterShape } =
      attrs as unknown as Conv2DBackpropFilterAttrs;
    return tidy(() => {
      const nchw = dataFormat === 'NCHW';
      const xs = nchw ? transpose(x, [0, 2, 3, 1]) : x;
      const dys = nchw ? transpose(dy, [0, 2, 3, 1]) : dy;
      const c = backend_util.computeConv2DInfo(
        xs.shape,
        filterShape,
        strides,
        1,
        pad,
        dimRoundingMode,
      );
      const rows = c.filterHeight + (c.outHeight - 1) * c.strideHeight; // input rows the windows read
      const cols = c.filterWidth + (c.outWidth - 1) * c.strideWidth;
      const xw = spatialWindow(xs, [-c.padInfo.top, -c.padInfo.left], [rows, cols]);
      const dw = conv2d(
        transpose(xw, [3, 1, 2, 0]), // [ci, rows, cols, batch]
        transpose(dys, [1, 2, 0, 3]), // [oh, ow, batch, co]
        1,
        'valid',
        'NHWC',
        [c.strideHeight, c.strideWidth],
      ); // [ci, kh, kw, co]
      return transpose(dw, [1, 2, 0, 3]);
    });
  },
};
