import {
  backend_util,
  DepthwiseConv2dNativeBackpropFilter,
  type DepthwiseConv2dNativeBackpropFilterAttrs,
  type KernelConfig,
  matMul,
  reshape,
  type Tensor4D,
  tidy,
  transpose,
} from '@tensorflow/tfjs-core';
import { convWindows, gatherTaps } from './im2col.js';
import { spatialWindow } from './spatialWindow.js';

/**
 * `DepthwiseConv2dNativeBackpropFilter` for `wasm` (the filter gradient of depthwiseConv2d and
 * separableConv2d): im2col of the padded input, [c, n, taps] per channel, times dy
 * [c, n, multiplier] in one batched matMul.
 */
export const depthwiseConv2dNativeBackpropFilterConfig: KernelConfig = {
  kernelName: DepthwiseConv2dNativeBackpropFilter,
  backendName: 'wasm',
  kernelFunc: ({ inputs, attrs }) => {
    const { x, dy } = inputs as unknown as { x: Tensor4D; dy: Tensor4D };
    const { strides, dilations, pad, dimRoundingMode, filterShape } =
      attrs as unknown as DepthwiseConv2dNativeBackpropFilterAttrs;
    return tidy(() => {
      const w = convWindows(
        backend_util.computeConv2DInfo(
          x.shape,
          filterShape,
          strides,
          dilations,
          pad,
          dimRoundingMode,
          true,
        ),
      );
      const [kh, kw, channels, multiplier] = filterShape;
      const n = dy.size / (channels * multiplier);
      const padded = spatialWindow(
        x,
        w.padBefore.map((p) => -p),
        w.span,
      );
      const patches = transpose(reshape(gatherTaps(padded, w), [n, kh * kw, channels]), [2, 0, 1]); // [c, n, taps]
      const grads = transpose(reshape(dy, [n, channels, multiplier]), [1, 0, 2]); // [c, n, m]
      const dw = matMul(patches, grads, true, false); // [c, taps, m]
      return reshape(transpose(dw, [1, 0, 2]), filterShape);
    });
  },
};
