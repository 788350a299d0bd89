import { StreamsError } from '@streams/core';
import {
  cast,
  type KernelConfig,
  matMul,
  oneHot,
  reshape,
  slice,
  type Tensor,
  type Tensor1D,
  tidy,
  transpose,
  UnsortedSegmentSum,
  type UnsortedSegmentSumAttrs,
  util,
} from '@tensorflow/tfjs-core';

/**
 * `UnsortedSegmentSum` for `wasm` (the gradient of tf.gather, e.g. embeddings or picking logits):
 * out[s] = sum of x[i] where ids[i] = s, as oneHot(ids)^T @ x. Ids outside [0, numSegments) are
 * dropped, as on the other backends. Integer inputs are summed in float32 (exact below 2^24).
 */
export const unsortedSegmentSumConfig: KernelConfig = {
  kernelName: UnsortedSegmentSum,
  backendName: 'wasm',
  kernelFunc: ({ inputs, attrs }) => {
    const { x, segmentIds } = inputs as unknown as { x: Tensor; segmentIds: Tensor1D };
    const { numSegments } = attrs as unknown as UnsortedSegmentSumAttrs;
    if (segmentIds.rank !== 1) {
      throw new StreamsError(
        'STREAMS_NOT_IMPLEMENTED',
        `[streams/cl] UnsortedSegmentSum on wasm takes 1-D segment ids (as tf.gather's gradient passes them), got shape [${segmentIds.shape}]`,
        { fix: 'flatten the segment ids and the leading axes of x to one axis first' },
      );
    }
    return tidy(() => {
      const rest = x.shape.slice(1);
      const rows = reshape(cast(x, 'float32'), [x.shape[0]!, util.sizeFromShape(rest)]); // [n, rest]
      // oneHot wants a depth of 2 or more: one spare column, cut off again. It is made as int32
      // and cast, because wasm's OneHot writes int bits into float32 outputs (tfjs 4.22).
      const members = cast(
        slice(oneHot(segmentIds, numSegments + 1), 0, [-1, numSegments]),
        'float32',
      ); // [n, segments]
      // members^T rows, the transpose made first: wasm's matMul is slower with transposeA.
      const out = reshape(matMul(transpose(members), rows), [numSegments, ...rest]);
      return x.dtype === 'float32' ? out : cast(out, x.dtype);
    });
  },
};
