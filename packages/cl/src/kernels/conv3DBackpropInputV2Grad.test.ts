import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../backend.js';

beforeAll(async () => {
  await import('@tensorflow/tfjs-backend-cpu');
  await selectBackend({ backend: 'wasm' });
});

// conv3dTranspose(y, f) is the adjoint of conv3d(., f): sum(conv3dTranspose(y, f) * g) equals
// sum(y * conv3d(g, f)) for every y, f, g. The two sides are the same function of (y, f), so
// their gradients must agree; the right side uses only tfjs's own conv3d gradients.
describe('the Conv3DBackpropInputV2 gradient (conv3dTranspose trains)', () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    it(`equals the gradient of the adjoint form on ${backend}, with strides and padding`, async () => {
      await tf.setBackend(backend);
      for (const [strides, pad] of [
        [[1, 1, 1], 'same'],
        [[2, 1, 2], 'same'],
        [[2, 2, 1], 'valid'],
      ] as const) {
        const inShape: [number, number, number, number, number] = [2, 5, 4, 6, 3]; // [b, d, h, w, ci]
        const filter = tf.randomNormal([3, 2, 3, 3, 4], 0, 1, 'float32', 1) as tf.Tensor5D; // [kd, kh, kw, ci, co]
        const g = tf.randomNormal(inShape, 0, 1, 'float32', 2) as tf.Tensor5D;
        const yShape = tf.conv3d(g, filter, [...strides], pad).shape;
        const y = tf.randomNormal(yShape, 0, 1, 'float32', 3) as tf.Tensor5D;
        const viaTranspose = tf.grads((yy: tf.Tensor, ff: tf.Tensor) =>
          tf.sum(
            tf.mul(
              tf.conv3dTranspose(yy as tf.Tensor5D, ff as tf.Tensor5D, inShape, [...strides], pad),
              g,
            ),
          ),
        )([y, filter]);
        const viaConv = tf.grads((yy: tf.Tensor, ff: tf.Tensor) =>
          tf.sum(tf.mul(yy, tf.conv3d(g, ff as tf.Tensor5D, [...strides], pad))),
        )([y, filter]);
        for (const i of [0, 1]) {
          const a = await viaTranspose[i]!.data();
          const b = await viaConv[i]!.data();
          const scale = Math.max(1, ...Array.from(b, Math.abs));
          const err = Math.max(...Array.from(a, (v, j) => Math.abs(v - b[j]!)));
          expect(err / scale, `${backend} ${strides} ${pad} input ${i}`).toBeLessThan(1e-5);
        }
        tf.dispose([filter, g, y, ...viaTranspose, ...viaConv]);
      }
    });
  }
});
