import {
  backend_util,
  DepthwiseConv2dNativeBackpropFilter,
  type DepthwiseConv2dNativeBackpropFilterAttrs,
  type KernelConfig,
  matMul,
  reshape,
  stack,
  stridedSlice,
  type Tensor4D,
  tidy,
  transpose,
} from '@tensorflow/tfjs-core';
import { spatialWindow } from './spatialWindow.js';

/**
 * `DepthwiseConv2dNativeBackpropFilter` for `wasm` (the filter gradient of depthwiseConv2d and
 * separableConv2d): the kh*kw strided taps of the padded input are gathered into patches
 * [c, n, taps] and multiplied with dy [c, n, multiplier] in one batched matMul per channel.
 */
export const depthwiseConv2dNativeBackpropFilterConfig: KernelConfig = {
  kernelName: DepthwiseConv2dNativeBackpropFilter,
  backendName: 'wasm',
  kernelFunc: ({ inputs, attrs }) => {
    const { x, dy } = inputs as unknown as { x: Tensor4D; dy: Tensor4D };
    const { strides, dilations, pad, dimRoundingMode, filterShape } =
      attrs as unknown as DepthwiseConv2dNativeBackpropFilterAttrs;
    return tidy(() => {
      const c = backend_util.computeConv2DInfo(
        x.shape,
        filterShape,
        strides,
        dilations,
        pad,
        dimRoundingMode,
        true,
      );
      const [kh, kw, channels, multiplier] = filterShape;
      const spanRows = (c.outHeight - 1) * c.strideHeight + 1;
      const spanCols = (c.outWidth - 1) * c.strideWidth + 1;
      const xw = spatialWindow(
        x,
        [-c.padInfo.top, -c.padInfo.left],
        [(kh - 1) * c.dilationHeight + spanRows, (kw - 1) * c.dilationWidth + spanCols],
      );
      const taps: Tensor4D[] = [];
      for (let i = 0; i < kh; i++) {
        for (let j = 0; j < kw; j++) {
          const r = i * c.dilationHeight;
          const q = j * c.dilationWidth;
          taps.push(
            stridedSlice(
              xw,
              [0, r, q, 0],
              [c.batchSize, r + spanRows, q + spanCols, channels],
              [1, c.strideHeight, c.strideWidth, 1],
            ) as Tensor4D, // [batch, oh, ow, c]
          );
        }
      }
      const n = c.batchSize * c.outHeight * c.outWidth;
      const patches = transpose(reshape(stack(taps, 3), [n, kh * kw, channels]), [2, 0, 1]); // [c, n, taps]
      const grads = transpose(reshape(dy, [n, channels, multiplier]), [1, 0, 2]); // [c, n, m]
      const dw = matMul(patches, grads, true, false); // [c, taps, m]
      return reshape(transpose(dw, [1, 0, 2]), filterShape);
    });
  },
};
