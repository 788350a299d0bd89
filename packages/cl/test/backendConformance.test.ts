// One conformance suite for every backend present: the same seed gives the same losses, within
// float32 tolerance, on cpu (the reference), wasm and native tensorflow. The models are written
// directly in tfjs ops so the suite depends on nothing but the backends; between them they train
// every convolution gradient kernel and tf.gather's.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BackendName } from '../src/backend.js';
import { instantiate, type OpsModel } from './opsModel.js';
import { conformanceBackends } from './tfBackend.js';

/** Relative tolerance on a loss after a few Adam steps: float32 round-off (measured <= 2e-7). */
const TOLERANCE = 1e-5;
const STEPS = 5;

let present: BackendName[] = [];
beforeAll(async () => {
  present = await conformanceBackends();
  console.log(`[streams/cl] backend conformance runs on: ${present.join(', ')}`);
});

const relu = tf.relu;
const CASES: Record<string, OpsModel> = {
  'MLP 64-32-32-10, softmax cross-entropy': {
    params: { w1: [64, 32], b1: [32], w2: [32, 32], b2: [32], w3: [32, 10], b3: [10] },
    inputs: { x: { shape: [16, 64] }, y: { shape: [16], classes: 10 } },
    loss: (p, { x, y }) => {
      const h = relu(tf.add(tf.matMul(x!, p.w1!), p.b1!));
      const h2 = relu(tf.add(tf.matMul(h, p.w2!), p.b2!));
      const logits = tf.add(tf.matMul(h2, p.w3!), p.b3!);
      return tf.losses.softmaxCrossEntropy(tf.oneHot(y as tf.Tensor1D, 10), logits);
    },
  },
  'small CNN: 2 conv layers (stride 1 and 2), max pool, dense': {
    params: { k1: [3, 3, 1, 4], k2: [3, 3, 4, 8], w: [3 * 3 * 8, 10] },
    inputs: { x: { shape: [8, 12, 12, 1] }, y: { shape: [8], classes: 10 } },
    loss: (p, { x, y }) => {
      const c1 = tf.maxPool(
        relu(tf.conv2d(x as tf.Tensor4D, p.k1 as tf.Tensor4D, 1, 'same')),
        2,
        2,
        'valid',
      );
      const c2 = relu(tf.conv2d(c1, p.k2 as tf.Tensor4D, 2, 'same')); // [8, 3, 3, 8]
      const logits = tf.matMul(tf.reshape(c2, [8, 3 * 3 * 8]), p.w!);
      return tf.losses.softmaxCrossEntropy(tf.oneHot(y as tf.Tensor1D, 10), logits);
    },
  },
  'depthwise-separable CNN': {
    params: { d: [3, 3, 2, 2], pw: [1, 1, 4, 6], w: [6 * 4 * 4, 5] },
    inputs: { x: { shape: [4, 8, 8, 2] }, y: { shape: [4], classes: 5 } },
    loss: (p, { x, y }) => {
      const s = relu(
        tf.separableConv2d(x as tf.Tensor4D, p.d as tf.Tensor4D, p.pw as tf.Tensor4D, 2, 'same'),
      ); // [4, 4, 4, 6]
      const logits = tf.matMul(tf.reshape(s, [4, 6 * 4 * 4]), p.w!);
      return tf.losses.softmaxCrossEntropy(tf.oneHot(y as tf.Tensor1D, 5), logits);
    },
  },
  'Conv2D autoencoder (conv2d stride 2, conv2dTranspose stride 2), MSE': {
    params: { enc: [3, 3, 2, 6], dec: [3, 3, 2, 6] },
    inputs: { x: { shape: [4, 8, 8, 2] } },
    loss: (p, { x }) => {
      const z = relu(tf.conv2d(x as tf.Tensor4D, p.enc as tf.Tensor4D, 2, 'same')); // [4, 4, 4, 6]
      const r = tf.sigmoid(tf.conv2dTranspose(z, p.dec as tf.Tensor4D, [4, 8, 8, 2], 2, 'same'));
      return tf.losses.meanSquaredError(x!, r);
    },
  },
  'Conv3D autoencoder (conv3d stride 2, conv3dTranspose stride 2), MSE': {
    params: { enc: [3, 3, 3, 1, 4], dec: [3, 3, 3, 1, 4] },
    inputs: { x: { shape: [2, 4, 6, 6, 1] } },
    loss: (p, { x }) => {
      const z = relu(tf.conv3d(x as tf.Tensor5D, p.enc as tf.Tensor5D, 2, 'same')); // [2, 2, 3, 3, 4]
      const r = tf.conv3dTranspose(z, p.dec as tf.Tensor5D, [2, 4, 6, 6, 1], 2, 'same');
      return tf.losses.meanSquaredError(x!, r);
    },
  },
  'embedding lookup (tf.gather) into a linear classifier': {
    params: { table: [20, 8], w: [8, 4] },
    inputs: { ids: { shape: [12], classes: 20 }, y: { shape: [12], classes: 4 } },
    loss: (p, { ids, y }) => {
      const logits = tf.matMul(tf.gather(p.table!, ids!), p.w!);
      return tf.losses.softmaxCrossEntropy(tf.oneHot(y as tf.Tensor1D, 4), logits);
    },
  },
};

/** Trains `c` for a few Adam steps on `backend` from weights and data drawn from one seed. */
async function losses(backend: BackendName, c: OpsModel, seed: number): Promise<number[]> {
  await tf.setBackend(backend);
  const model = instantiate(c, seed);
  const optimizer = tf.train.adam(0.01);
  const out: number[] = [];
  for (let i = 0; i < STEPS; i++) out.push(await model.step(optimizer));
  optimizer.dispose();
  model.dispose();
  return out;
}

describe('backend conformance: same seed, same losses on every backend present', () => {
  for (const [name, c] of Object.entries(CASES)) {
    it(name, async () => {
      const reference = await losses('cpu', c, 7);
      expect(reference.at(-1)!, 'the model trains on cpu').toBeLessThan(reference[0]!);
      for (const backend of present.filter((b) => b !== 'cpu')) {
        const got = await losses(backend, c, 7);
        got.forEach((l, i) => {
          const rel = Math.abs(l - reference[i]!) / Math.max(1, Math.abs(reference[i]!));
          expect(rel, `${backend} step ${i}: ${l} vs cpu ${reference[i]}`).toBeLessThanOrEqual(
            TOLERANCE,
          );
        });
      }
    });
  }

  it('runs on native tensorflow too when setup built it (STREAMS_EXPECT_NATIVE=1)', () => {
    expect(present).toEqual(
      process.env.STREAMS_EXPECT_NATIVE === '1'
        ? ['cpu', 'wasm', 'tensorflow']
        : expect.arrayContaining(['cpu', 'wasm']),
    );
  });
});
