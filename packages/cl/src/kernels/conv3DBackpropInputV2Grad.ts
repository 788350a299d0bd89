import {
  Conv3DBackpropFilterV2,
  Conv3DBackpropInputV2,
  type Conv3DBackpropInputV2Attrs,
  conv3d,
  engine,
  type GradConfig,
  type NamedAttrMap,
  type Tensor,
  type Tensor5D,
} from '@tensorflow/tfjs-core';

/**
 * The gradient of `Conv3DBackpropInputV2`, missing from tfjs-core 4.22 on every backend, so that
 * conv3dTranspose (the decoder of a Conv3D autoencoder) trains: the same identities as tfjs-core's
 * Conv2DBackpropInput gradient, one dimension up.
 */
export const conv3DBackpropInputV2GradConfig: GradConfig = {
  kernelName: Conv3DBackpropInputV2,
  inputsToSave: ['dy', 'filter'],
  gradFunc: (ddx, saved, attrs) => {
    const [dy, filter] = saved as [Tensor5D, Tensor5D];
    const { strides, pad } = attrs as unknown as Conv3DBackpropInputV2Attrs;
    return {
      dy: () => conv3d(ddx as Tensor5D, filter, strides, pad),
      filter: () =>
        engine().runKernel(Conv3DBackpropFilterV2, { x: ddx as Tensor, dy }, {
          strides,
          pad,
          filterShape: filter.shape,
        } as unknown as NamedAttrMap) as Tensor5D,
    };
  },
};
