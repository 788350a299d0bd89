import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { batches, blobs } from '../../test/synthetic.js';
import { useTestBackend } from '../../test/tfBackend.js';
import type { Batch } from '../batch.js';
import { ContinualLearner } from '../continualLearner.js';
import { empiricalFisher } from './ewc.js';

describe('EWC', () => {
  beforeAll(useTestBackend);

  it('the empirical Fisher of a tiny softmax model equals its hand computation (weights included)', () => {
    const l = new ContinualLearner({
      model: { kind: 'mlp', inputShape: 2, hidden: [], outputs: 2 },
      optimizer: { name: 'sgd', lr: 0.1 },
    });
    const W = [
      [0.5, -0.3],
      [0.2, 0.8],
    ];
    const b = [0.1, -0.2];
    l.model.params[0]!.variable.assign(tf.tensor2d(W));
    l.model.params[1]!.variable.assign(tf.tensor1d(b));
    const xs = [
      [1, 2],
      [-1, 0.5],
      [0.3, -0.7],
    ];
    const ys = [0, 1, 1];
    const ws = [1, 2, 0.5];
    const batch: Batch = {
      x: Float32Array.from(xs.flat()),
      y: Int32Array.from(ys),
      weight: Float32Array.from(ws),
    };
    // Hand: softmax p, gradient of -log p_y: dW = x (p - e_y)^T, db = p - e_y; F = sum w g^2 / sum w.
    const fW = [
      [0, 0],
      [0, 0],
    ];
    const fb = [0, 0];
    xs.forEach((x, i) => {
      const z = [0, 1].map((k) => x[0]! * W[0]![k]! + x[1]! * W[1]![k]! + b[k]!);
      const e = z.map((v) => Math.exp(v - Math.max(...z)));
      const p = e.map((v) => v / (e[0]! + e[1]!));
      const d = p.map((v, k) => v - (k === ys[i] ? 1 : 0));
      for (let a = 0; a < 2; a++)
        for (let k = 0; k < 2; k++) fW[a]![k] = fW[a]![k]! + ws[i]! * (x[a]! * d[k]!) ** 2;
      for (let k = 0; k < 2; k++) fb[k] = fb[k]! + ws[i]! * d[k]! ** 2;
    });
    const total = ws.reduce((a, c) => a + c, 0);
    const fisher = empiricalFisher(l.context, batch, 3);
    const got = fisher.map((t) => Array.from(t.dataSync()));
    tf.dispose(fisher);
    fW.flat().forEach((v, i) => {
      expect(got[0]![i]).toBeCloseTo(v / total, 6);
    });
    fb.forEach((v, i) => {
      expect(got[1]![i]).toBeCloseTo(v / total, 6);
    });
    l.dispose();
  });

  for (const mode of ['separate', 'online'] as const) {
    it(`the ${mode} penalty equals its closed form`, async () => {
      const lambda = 7;
      const gamma = 0.6;
      const data = [0, 1].map((s) =>
        batches(blobs({ classes: 3, perClass: 10, dim: 4, seed: s + 1 }), 10),
      );
      const anchors: Float32Array[][] = [];
      const fishers: Float32Array[][] = [];
      const l = new ContinualLearner({
        model: { kind: 'mlp', inputShape: 4, hidden: [5], outputs: 3 },
        optimizer: { name: 'sgd', lr: 0.1 },
        strategy: { name: 'ewc', lambda, mode, gamma, fisherSamples: 1000 },
        hooks: {
          afterExperience: (learner, e) => {
            const all = data[e]!;
            const joined: Batch = {
              x: Float32Array.from(all.flatMap((b) => [...b.x])),
              y: Int32Array.from(all.flatMap((b) => [...(b.y as Int32Array)])),
            };
            const f = empiricalFisher(learner.context, joined, 30);
            fishers.push(f.map((t) => t.dataSync() as Float32Array));
            tf.dispose(f);
            anchors.push(learner.model.params.map((p) => p.variable.dataSync() as Float32Array));
          },
        },
      });
      for (const [e, d] of data.entries()) await l.trainExperience(d, { experience: e });
      // Move to some other point and compare lambda/2 * sum over anchors of F (theta - theta*)^2.
      tf.tidy(() => {
        for (const p of l.model.params)
          p.variable.assign(tf.add(p.variable, tf.fill(p.variable.shape, 0.3)));
      });
      const theta = l.model.params.map((p) => p.variable.dataSync() as Float32Array);
      let expected = 0;
      const expectedGrads = theta.map((th) => new Float64Array(th.length));
      const terms =
        mode === 'separate'
          ? [0, 1].map((t) => ({ f: fishers[t]!, a: anchors[t]!, scale: 1 }))
          : [
              { f: fishers[0]!, a: anchors[1]!, scale: gamma },
              { f: fishers[1]!, a: anchors[1]!, scale: 1 },
            ];
      for (const { f, a, scale } of terms) {
        theta.forEach((th, k) => {
          for (let i = 0; i < th.length; i++) {
            expected += (lambda / 2) * scale * f[k]![i]! * (th[i]! - a[k]![i]!) ** 2;
            expectedGrads[k]![i]! += lambda * scale * f[k]![i]! * (th[i]! - a[k]![i]!);
          }
        });
      }
      const strategy = l.strategies[0]!;
      const [got, grads] = tf.tidy(() => {
        const term = strategy.penaltyGradients!(l.context)!;
        return [term.value.dataSync()[0]!, term.grads.map((g) => g.dataSync() as Float32Array)];
      });
      expect(got).toBeGreaterThan(0);
      expect(Math.abs(got - expected) / expected).toBeLessThan(1e-4);
      // The gradient is the penalty's own: lambda * sum F (theta - theta*), per parameter.
      const scaleOf = Math.max(...expectedGrads.flatMap((g) => [...g].map(Math.abs)));
      expectedGrads.forEach((want, k) => {
        want.forEach((w, i) => {
          expect(Math.abs(grads[k]![i]! - w)).toBeLessThan(1e-4 * scaleOf);
        });
      });
      l.dispose();
    });
  }
});
