import {
  backend_util,
  Conv3DBackpropFilterV2,
  type Conv3DBackpropFilterV2Attrs,
  type KernelConfig,
  matMul,
  reshape,
  type Tensor5D,
  tidy,
  transpose,
} from '@tensorflow/tfjs-core';
import { convWindows, gatherTaps } from './im2col.js';
import { spatialWindow } from './spatialWindow.js';

/**
 * `Conv3DBackpropFilterV2` for `wasm` (the filter gradient of conv3d and conv3dTranspose),
 * replacing the one tfjs-backend-wasm 4.22 ships, whose results are wrong with strides (x
 * [2,4,3,5,2], strides [2,1,2], 'same': errors of the size of the values). im2col: the padded
 * input's taps side by side [n, taps * ci] times dy [n, co] in one matMul (wasm's Conv3D is a
 * plain loop; its matMul uses SIMD).
 */
export const conv3DBackpropFilterV2Config: KernelConfig = {
  kernelName: Conv3DBackpropFilterV2,
  backendName: 'wasm',
  kernelFunc: ({ inputs, attrs }) => {
    const { x, dy } = inputs as unknown as { x: Tensor5D; dy: Tensor5D };
    const { strides, pad, filterShape } = attrs as unknown as Conv3DBackpropFilterV2Attrs;
    return tidy(() => {
      const w = convWindows(backend_util.computeConv3DInfo(x.shape, filterShape, strides, 1, pad));
      const padded = spatialWindow(
        x,
        w.padBefore.map((p) => -p),
        w.span,
      );
      const [kd, kh, kw, ci, co] = filterShape;
      const n = dy.size / co;
      const cols = reshape(gatherTaps(padded, w), [n, kd * kh * kw * ci]);
      // cols^T dy as (dy^T cols)^T: wasm's matMul is several times slower with transposeA.
      const dw = transpose(matMul(transpose(reshape(dy, [n, co])), cols)); // [taps * ci, co]
      return reshape(dw, filterShape);
    });
  },
};
