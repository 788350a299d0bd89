import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestBackend } from '../test/tfBackend.js';
import { Optimizer } from './optimizer.js';

describe('Optimizer', () => {
  beforeAll(useTestBackend);

  const param = (v: number[]) => ({
    name: 'p',
    layer: 'l',
    variable: tf.variable(tf.tensor1d(v), true),
  });

  it('SGD, momentum and Adam follow their update rules', () => {
    const g = [0.5, -1];
    const sgd = param([1, 2]);
    new Optimizer({ name: 'sgd', lr: 0.1 }, [sgd]).apply([tf.tensor1d(g)]);
    expect(Array.from(sgd.variable.dataSync())).toEqual([
      Math.fround(1 - 0.05),
      Math.fround(2 + 0.1),
    ]);
    const mom = param([0, 0]);
    const m = new Optimizer({ name: 'momentum', lr: 0.1, momentum: 0.5 }, [mom]);
    m.apply([tf.tensor1d(g)]);
    m.apply([tf.tensor1d(g)]);
    // v1 = g, v2 = 0.5 g + g = 1.5 g: theta = -0.1 (g + 1.5 g) = -0.25 g.
    expect(mom.variable.dataSync()[0]).toBeCloseTo(-0.125, 6);
    const ad = param([0, 0]);
    const a = new Optimizer({ name: 'adam', lr: 0.01 }, [ad]);
    a.apply([tf.tensor1d(g)]);
    // First Adam step moves each weight by lr * sign(g) (up to epsilon).
    expect(ad.variable.dataSync()[0]).toBeCloseTo(-0.01, 6);
    expect(ad.variable.dataSync()[1]).toBeCloseTo(0.01, 6);
  });

  it('restored Adam state continues bit for bit', async () => {
    const grads = [0.3, -0.7, 0.1, 0.9, -0.2].map((x) => [x, x * 2]);
    const a = param([1, 1]);
    const oa = new Optimizer({ name: 'adam', lr: 0.05 }, [a]);
    for (const g of grads.slice(0, 2)) oa.apply([tf.tensor1d(g)]);
    const b = param(Array.from(a.variable.dataSync()));
    const ob = new Optimizer({ name: 'adam', lr: 0.05 }, [b]);
    ob.setState(await oa.getState());
    for (const g of grads.slice(2)) {
      oa.apply([tf.tensor1d(g)]);
      ob.apply([tf.tensor1d(g)]);
    }
    expect(Array.from(b.variable.dataSync())).toEqual(Array.from(a.variable.dataSync()));
    expect(ob.step).toBe(5);
  });
});
