import {
  backend_util,
  Conv3DBackpropFilterV2,
  type Conv3DBackpropFilterV2Attrs,
  conv3d,
  type KernelConfig,
  type Tensor5D,
  tidy,
  transpose,
} from '@tensorflow/tfjs-core';
import { spatialWindow } from './spatialWindow.js';

/**
 * `Conv3DBackpropFilterV2` for `wasm` (the filter gradient of conv3d and conv3dTranspose),
 * replacing the one tfjs-backend-wasm 4.22 ships, whose results are wrong with strides (x
 * [2,4,3,5,2], strides [2,1,2], 'same': errors of the size of the values). The same identity as
 * {@link conv2DBackpropFilterConfig}, one dimension up, on the backend's own Conv3D.
 */
export const conv3DBackpropFilterV2Config: KernelConfig = {
  kernelName: Conv3DBackpropFilterV2,
  backendName: 'wasm',
  kernelFunc: ({ inputs, attrs }) => {
    const { x, dy } = inputs as unknown as { x: Tensor5D; dy: Tensor5D };
    const { strides, pad, filterShape } = attrs as unknown as Conv3DBackpropFilterV2Attrs;
    return tidy(() => {
      const c = backend_util.computeConv3DInfo(x.shape, filterShape, strides, 1, pad);
      const xw = spatialWindow(
        x,
        [-c.padInfo.front, -c.padInfo.top, -c.padInfo.left],
        [
          c.filterDepth + (c.outDepth - 1) * c.strideDepth,
          c.filterHeight + (c.outHeight - 1) * c.strideHeight,
          c.filterWidth + (c.outWidth - 1) * c.strideWidth,
        ],
      );
      const dw = conv3d(
        transpose(xw, [4, 1, 2, 3, 0]), // [ci, depth, rows, cols, batch]
        transpose(dy, [1, 2, 3, 0, 4]), // [od, oh, ow, batch, co]
        1,
        'valid',
        'NDHWC',
        [c.strideDepth, c.strideHeight, c.strideWidth],
      ); // [ci, kd, kh, kw, co]
      return transpose(dw, [1, 2, 3, 0, 4]);
    });
  },
};
