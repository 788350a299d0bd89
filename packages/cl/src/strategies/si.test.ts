import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestBackend } from '../../test/tfBackend.js';
import { ContinualLearner } from '../continualLearner.js';

describe('SI', () => {
  beforeAll(useTestBackend);

  it('importance on a known trajectory, and the penalty it gives', () => {
    const c = 2;
    const xi = 0.1;
    // A 1-input, 1-output linear model: params kernel [1, 1] and bias [1].
    const l = new ContinualLearner({
      model: { kind: 'mlp', inputShape: 1, hidden: [], outputs: 1, task: 'regression' },
      optimizer: { name: 'sgd', lr: 0.1 },
      strategy: { name: 'si', c, xi },
    });
    const si = l.strategies[0]!;
    const [w, b] = l.model.params.map((p) => p.variable);
    const set = (wv: number, bv: number) => {
      w!.assign(tf.tensor2d([[wv]]));
      b!.assign(tf.tensor1d([bv]));
    };
    set(1, 0);
    si.beforeExperience!(l.context);
    // Trajectory: (1, 0) -> (0.8, 0.1) with g = (2, -1) -> (0.5, 0.1) with g = (3, 0.5).
    const steps = [
      { to: [0.8, 0.1], g: [2, -1] },
      { to: [0.5, 0.1], g: [3, 0.5] },
    ];
    let prev = [1, 0];
    const omega = [0, 0];
    for (const s of steps) {
      set(s.to[0]!, s.to[1]!);
      tf.tidy(() => si.afterUpdate!(l.context, [tf.tensor2d([[s.g[0]!]]), tf.tensor1d([s.g[1]!])]));
      omega[0] = omega[0]! - s.g[0]! * (s.to[0]! - prev[0]!);
      omega[1] = omega[1]! - s.g[1]! * (s.to[1]! - prev[1]!);
      prev = s.to;
    }
    si.afterExperience!(l.context);
    // Omega = omega / (delta^2 + xi), delta = end - start = (-0.5, 0.1).
    const Omega = [omega[0]! / (0.25 + xi), omega[1]! / (0.01 + xi)];
    // Penalty at (0, 1): c * sum Omega (theta - theta_end)^2 with theta_end = (0.5, 0.1).
    set(0, 1);
    const [got, grads] = tf.tidy(() => {
      const term = si.penaltyGradients!(l.context)!;
      return [term.value.dataSync()[0]!, term.grads.map((g) => g.dataSync()[0]!)];
    });
    const expected = c * (Omega[0]! * 0.25 + Omega[1]! * 0.81);
    // Its gradient 2c Omega (theta - theta_end).
    expect(grads[0]).toBeCloseTo(2 * c * Omega[0]! * -0.5, 5);
    expect(grads[1]).toBeCloseTo(2 * c * Omega[1]! * 0.9, 5);
    expect(omega[0]).toBeCloseTo(0.4 + 0.9, 12);
    expect(omega[1]).toBeCloseTo(0.1, 12);
    expect(got).toBeCloseTo(expected, 5);
    l.dispose();
  });

  it('a negative path integral adds no importance (it would push the parameter away)', () => {
    const l = new ContinualLearner({
      model: { kind: 'mlp', inputShape: 1, hidden: [], outputs: 1, task: 'regression' },
      optimizer: { name: 'sgd', lr: 0.1 },
      strategy: { name: 'si', c: 1, xi: 0.1 },
    });
    const si = l.strategies[0]!;
    const [w, b] = l.model.params.map((p) => p.variable);
    w!.assign(tf.tensor2d([[1]]));
    b!.assign(tf.tensor1d([0]));
    si.beforeExperience!(l.context);
    // The kernel moves against its gradient (omega 0.4 > 0), the bias with it (omega -0.1 < 0).
    w!.assign(tf.tensor2d([[0.8]]));
    b!.assign(tf.tensor1d([0.1]));
    tf.tidy(() => si.afterUpdate!(l.context, [tf.tensor2d([[2]]), tf.tensor1d([1])]));
    si.afterExperience!(l.context);
    w!.assign(tf.tensor2d([[0]]));
    b!.assign(tf.tensor1d([1]));
    const grads = tf.tidy(() =>
      si.penaltyGradients!(l.context)!.grads.map((g) => g.dataSync()[0]!),
    );
    // Kernel: 2c Omega (0 - 0.8) with Omega = 0.4 / (0.04 + 0.1); bias: no importance, no pull.
    expect(grads[0]).toBeCloseTo(2 * (0.4 / 0.14) * -0.8, 5);
    expect(grads[1]).toBe(0);
    l.dispose();
  });
});
