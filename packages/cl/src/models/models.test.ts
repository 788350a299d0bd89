import { isStreamsError } from '@streams/core';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestBackend } from '../../test/tfBackend.js';
import { ContinualLearner } from '../continualLearner.js';
import { createModel, modelKinds, registerModel } from '../modelRegistry.js';
import { mlp } from './mlp.js';

const count = (m: { params: readonly { variable: tf.Variable }[] }) =>
  m.params.reduce((a, p) => a + p.variable.size, 0);

describe('models', () => {
  beforeAll(useTestBackend);

  it('MLP: layer sizes, multi-head outputs, xavier bounds, seeded init', () => {
    const m = createModel(
      { kind: 'mlp', inputShape: 784, hidden: [256, 256], outputs: 10, heads: 2 },
      { seed: 3 },
    );
    expect(count(m)).toBe(784 * 256 + 256 + 256 * 256 + 256 + 256 * 20 + 20);
    expect(m.params.map((p) => p.layer)).toEqual(['l0', 'l0', 'l1', 'l1', 'l2', 'l2']);
    const k0 = m.params[0]!.variable.dataSync() as Float32Array;
    const limit = Math.sqrt(6 / (784 + 256));
    const largest = k0.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
    expect(largest).toBeLessThanOrEqual(limit);
    expect(largest).toBeGreaterThan(limit * 0.99);
    expect(m.params[1]!.variable.dataSync().every((v) => v === 0)).toBe(true);
    const same = createModel(
      { kind: 'mlp', inputShape: 784, hidden: [256, 256], outputs: 10, heads: 2 },
      { seed: 3 },
    );
    expect(same.params[0]!.variable.dataSync()).toEqual(k0);
    const out = tf.tidy(() => m.forward(tf.zeros([5, 784])).shape);
    expect(out).toEqual([5, 20]);
    m.init(4);
    expect(m.params[0]!.variable.dataSync()).not.toEqual(k0);
    m.dispose();
    same.dispose();
  });

  it('CNN and the three autoencoders give the shapes they promise', () => {
    const cases = [
      {
        spec: {
          kind: 'cnn',
          inputShape: [8, 8, 1],
          conv: [{ filters: 4 }, { filters: 8 }],
          hidden: [16],
          outputs: 3,
        },
        out: 3,
      },
      {
        spec: {
          kind: 'mlpAutoencoder',
          inputShape: [6, 6],
          hidden: [12, 4],
          outputActivation: 'sigmoid',
        },
        out: 36,
      },
      { spec: { kind: 'conv2dAutoencoder', inputShape: [8, 8, 2], filters: [4, 6] }, out: 128 },
      { spec: { kind: 'conv3dAutoencoder', inputShape: [4, 4, 4, 1], filters: [3] }, out: 64 },
    ] as const;
    for (const c of cases) {
      const m = createModel(c.spec as never);
      const n = 2;
      const size = m.inputShape.reduce((a, b) => a * b, 1);
      tf.tidy(() => {
        const x = tf.randomUniform([n, size]);
        expect(m.forward(x).shape).toEqual([n, c.out]);
        if (m.encode && m.decode) {
          const z = m.encode(x);
          expect(m.decode(z).shape).toEqual([n, ...m.inputShape]);
        }
      });
      m.dispose();
    }
  });

  it('autoencoders learn: reconstruction loss falls while training', async () => {
    for (const model of [
      { kind: 'mlpAutoencoder', inputShape: 16, hidden: [8, 4] },
      { kind: 'conv2dAutoencoder', inputShape: [4, 4, 1], filters: [4] },
      { kind: 'conv3dAutoencoder', inputShape: [2, 4, 4, 1], filters: [4] },
    ] as const) {
      const l = new ContinualLearner({ model, optimizer: { name: 'adam', lr: 0.01 }, seed: 2 });
      const x = Float32Array.from({ length: 8 * 16 }, (_, i) => Math.sin(i * 0.7)); // [8, 16]
      const before = (await l.evaluate([{ x }])).loss;
      for (let s = 0; s < 60; s++) await l.trainBatch({ x });
      const after = await l.evaluate([{ x }]);
      expect(after.accuracy).toBeUndefined();
      expect(after.loss).toBeLessThan(before * 0.7);
      l.dispose();
    }
  });

  it('rejects bad specs with the field and a fix', () => {
    const bad = [
      { kind: 'mlp', inputShape: 0, hidden: [], outputs: 2 },
      { kind: 'mlp', inputShape: 4, hidden: [3.5], outputs: 2 },
      { kind: 'mlp', inputShape: 4, hidden: [3], outputs: 2, activation: 'swish' },
      { kind: 'cnn', inputShape: [8, 8], conv: [], outputs: 2 },
      { kind: 'conv2dAutoencoder', inputShape: [5, 5, 1], filters: [2] },
      { kind: 'conv3dAutoencoder', inputShape: [4, 4, 4, 1], filters: [] },
      { kind: 'transformer' },
    ];
    for (const spec of bad) {
      try {
        createModel(spec as never).dispose();
        expect.unreachable(JSON.stringify(spec));
      } catch (err) {
        expect(isStreamsError(err, 'STREAMS_INVALID_CONFIG')).toBe(true);
      }
    }
  });

  it('registers a user model family', () => {
    registerModel('wideMlp', (spec: { width: number }, seed) =>
      mlp({ kind: 'mlp', inputShape: 4, hidden: [spec.width], outputs: 2 }, seed),
    );
    expect(modelKinds()).toContain('wideMlp');
    const m = createModel({ kind: 'wideMlp', width: 7 } as never);
    expect(m.params[0]!.variable.shape).toEqual([4, 7]);
    m.dispose();
  });
});
