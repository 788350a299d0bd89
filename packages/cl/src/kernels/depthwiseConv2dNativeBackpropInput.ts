import {
  backend_util,
  DepthwiseConv2dNativeBackpropInput,
  type DepthwiseConv2dNativeBackpropInputAttrs,
  depthwiseConv2d,
  type KernelConfig,
  reshape,
  reverse,
  sum,
  type Tensor4D,
  tidy,
} from '@tensorflow/tfjs-core';
import { spatialWindow, zeroInsert } from './spatialWindow.js';

/**
 * `DepthwiseConv2dNativeBackpropInput` for `wasm` (the input gradient of depthwiseConv2d): the
 * transposed convolution as the backend's own depthwise convolution at stride 1 of dy spread out
 * by the stride, with the filter flipped, then summed over the channel multiplier.
 */
export const depthwiseConv2dNativeBackpropInputConfig: KernelConfig = {
  kernelName: DepthwiseConv2dNativeBackpropInput,
  backendName: 'wasm',
  kernelFunc: ({ inputs, attrs }) => {
    const { dy, filter } = inputs as unknown as { dy: Tensor4D; filter: Tensor4D };
    const { strides, dilations, pad, dimRoundingMode, inputShape } =
      attrs as unknown as DepthwiseConv2dNativeBackpropInputAttrs;
    return tidy(() => {
      const c = backend_util.computeConv2DInfo(
        inputShape,
        filter.shape,
        strides,
        dilations,
        pad,
        dimRoundingMode,
        true,
      );
      const [kh, kw, channels, multiplier] = filter.shape;
      const reachRows = (kh - 1) * c.dilationHeight; // effective filter size - 1
      const reachCols = (kw - 1) * c.dilationWidth;
      const spread = zeroInsert(dy, [c.strideHeight, c.strideWidth]);
      const window = spatialWindow(
        spread,
        [c.padInfo.top - reachRows, c.padInfo.left - reachCols],
        [c.inHeight + reachRows, c.inWidth + reachCols],
      );
      const flipped = reshape(reverse(filter, [0, 1]), [
        kh,
        kw,
        channels * multiplier,
        1,
      ]) as Tensor4D;
      const full = depthwiseConv2d(window, flipped, 1, 'valid', 'NHWC', [
        c.dilationHeight,
        c.dilationWidth,
      ]); // [batch, h, w, c * m]
      if (multiplier === 1) return full;
      return sum(reshape(full, [c.batchSize, c.inHeight, c.inWidth, channels, multiplier]), 4);
    });
  },
};
