import {
  backend_util,
  Conv3DBackpropInputV2,
  type Conv3DBackpropInputV2Attrs,
  type KernelConfig,
  matMul,
  reshape,
  scatterND,
  type Tensor5D,
  tidy,
  transpose,
} from '@tensorflow/tfjs-core';
import { convWindows, tapTensor } from './im2col.js';
import { spatialWindow } from './spatialWindow.js';

/**
 * `Conv3DBackpropInputV2` for `wasm` (the input gradient of conv3d and the forward pass of
 * conv3dTranspose), replacing the one tfjs-backend-wasm 4.22 ships, whose results are wrong as
 * soon as the depth axis has two steps (a 1x1x1 filter over dy of depth 2 already fails).
 * col2im: dy [n, co] times the filter [taps * ci, co] in one matMul, then one scatterND adds each
 * tap's share where it was read in the padded input.
 */
export const conv3DBackpropInputV2Config: KernelConfig = {
  kernelName: Conv3DBackpropInputV2,
  backendName: 'wasm',
  kernelFunc: ({ inputs, attrs }) => {
    const { dy, filter } = inputs as unknown as { dy: Tensor5D; filter: Tensor5D };
    const { strides, pad, inputShape } = attrs as unknown as Conv3DBackpropInputV2Attrs;
    return tidy(() => {
      const w = convWindows(
        backend_util.computeConv3DInfo(inputShape, filter.shape, strides, 1, pad),
      );
      const [kd, kh, kw, ci, co] = filter.shape;
      const n = dy.size / co;
      // The small filter is transposed first: wasm's matMul is several times slower with transposeB.
      const cols = matMul(
        reshape(dy, [n, co]),
        transpose(reshape(filter, [kd * kh * kw * ci, co])),
      );
      // scatterND adds up the shares that land on one place.
      const padded = scatterND(tapTensor(w), reshape(cols, [-1, ci]), [w.batch, ...w.span, ci]);
      return spatialWindow(padded as Tensor5D, w.padBefore, inputShape.slice(1, 4));
    });
  },
};
