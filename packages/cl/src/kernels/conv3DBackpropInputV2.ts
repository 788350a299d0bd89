import {
  backend_util,
  Conv3DBackpropInputV2,
  type Conv3DBackpropInputV2Attrs,
  conv3d,
  type KernelConfig,
  reverse,
  type Tensor5D,
  tidy,
  transpose,
} from '@tensorflow/tfjs-core';
import { spatialWindow, zeroInsert } from './spatialWindow.js';

/**
 * `Conv3DBackpropInputV2` for `wasm` (the input gradient of conv3d and the forward pass of
 * conv3dTranspose), replacing the one tfjs-backend-wasm 4.22 ships, whose results are wrong as
 * soon as the depth axis has two steps (a 1x1x1 filter over dy of depth 2 already fails): the
 * backend's own Conv3D at stride 1 over dy spread out by the stride, with the filter flipped and
 * its channel axes swapped.
 */
export const conv3DBackpropInputV2Config: KernelConfig = {
  kernelName: Conv3DBackpropInputV2,
  backendName: 'wasm',
  kernelFunc: ({ inputs, attrs }) => {
    const { dy, filter } = inputs as unknown as { dy: Tensor5D; filter: Tensor5D };
    const { strides, pad, inputShape } = attrs as unknown as Conv3DBackpropInputV2Attrs;
    return tidy(() => {
      const c = backend_util.computeConv3DInfo(inputShape, filter.shape, strides, 1, pad);
      const spread = zeroInsert(dy, [c.strideDepth, c.strideHeight, c.strideWidth]);
      const window = spatialWindow(
        spread,
        [
          c.padInfo.front - (c.filterDepth - 1),
          c.padInfo.top - (c.filterHeight - 1),
          c.padInfo.left - (c.filterWidth - 1),
        ],
        [
          c.inDepth + c.filterDepth - 1,
          c.inHeight + c.filterHeight - 1,
          c.inWidth + c.filterWidth - 1,
        ],
      );
      const flipped = transpose(reverse(filter, [0, 1, 2]), [0, 1, 2, 4, 3]); // [kd, kh, kw, co, ci]
      return conv3d(window, flipped, 1, 'valid');
    });
  },
};
