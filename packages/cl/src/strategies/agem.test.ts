import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestBackend } from '../../test/tfBackend.js';
import { createModel } from '../modelRegistry.js';
import { agemProject, paramGroups } from './agem.js';

const values = (ts: tf.Tensor[]) => ts.map((t) => Array.from(t.dataSync()));

describe('A-GEM projection on hand-made vectors', () => {
  beforeAll(useTestBackend);

  // Two parameters: A (2 values) and B (1 value).
  const g = () => [tf.tensor1d([1, -2]), tf.tensor1d([1])];
  const r = () => [tf.tensor1d([0, 1]), tf.tensor1d([1])];

  it('global: g - (g.r / r.r) r when g.r < 0, and the result is orthogonal to r', () => {
    tf.tidy(() => {
      // g.r = -2 + 1 = -1, r.r = 2: g + 0.5 r = [1, -1.5], [1.5].
      const out = agemProject(g(), r(), [[0, 1]]);
      expect(values(out)).toEqual([[1, -1.5], [1.5]]);
      const dotp = tf.add(tf.sum(tf.mul(out[0]!, r()[0]!)), tf.sum(tf.mul(out[1]!, r()[1]!)));
      expect(dotp.dataSync()[0]).toBeCloseTo(0, 6);
    });
  });

  it('layer-wise: each group projected on its own', () => {
    tf.tidy(() => {
      // A: g.r = -2, r.r = 1: [1, -2] + 2 [0, 1] = [1, 0]. B: g.r = 1 >= 0, unchanged.
      expect(values(agemProject(g(), r(), [[0], [1]]))).toEqual([[1, 0], [1]]);
    });
  });

  it('leaves a gradient that agrees with the reference unchanged, and survives a zero reference', () => {
    tf.tidy(() => {
      expect(values(agemProject(g(), [tf.tensor1d([1, 0]), tf.tensor1d([1])], [[0, 1]]))).toEqual([
        [1, -2],
        [1],
      ]);
      expect(values(agemProject(g(), [tf.tensor1d([0, 0]), tf.tensor1d([0])], [[0, 1]]))).toEqual([
        [1, -2],
        [1],
      ]);
    });
  });

  it('computes ref . ref only for the groups it projects', async () => {
    const kernels = async (refs: () => tf.Tensor[], groups: number[][]) =>
      (await tf.profile(() => tf.tidy(() => void agemProject(g(), refs(), groups)))).kernels.map(
        (k) => k.name,
      );
    // g.r >= 0 everywhere: only the g . ref products and their read-back.
    const agreeing = await kernels(() => [tf.tensor1d([1, 0]), tf.tensor1d([1])], [[0, 1]]);
    expect(agreeing.filter((k) => k === 'Square')).toEqual([]);
    expect(agreeing.filter((k) => k === 'Multiply')).toHaveLength(2);
    // Layer-wise with only A conflicting: ref . ref of A alone.
    const layerwise = await kernels(r, [[0], [1]]);
    expect(layerwise.filter((k) => k === 'Square')).toHaveLength(1);
  });

  it('groups parameters by layer', () => {
    const m = createModel({ kind: 'mlp', inputShape: 3, hidden: [4, 5], outputs: 2 });
    expect(paramGroups(m.params, false)).toEqual([[0, 1, 2, 3, 4, 5]]);
    expect(paramGroups(m.params, true)).toEqual([
      [0, 1],
      [2, 3],
      [4, 5],
    ]);
    m.dispose();
  });
});
