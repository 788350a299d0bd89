import { rng } from '@streams/core';
import type { Batch } from '../src/batch.js';
import type { ContinualLearner, LearnerOptions } from '../src/continualLearner.js';
import type { StrategyConfig } from '../src/strategyRegistry.js';
import { batches, blobs, subset, type Toy } from './synthetic.js';

/** A toy continual problem: the train and test batches of each experience. */
export interface Scenario {
  name: 'permuted' | 'split';
  dim: number;
  classes: number;
  epochs: number;
  train: Batch[][];
  test: Batch[][];
}

function permute(t: Toy, seed: number): Toy {
  if (seed === 0) return t;
  const p = rng(seed, 'permute').permutation(t.dim);
  const x = new Float32Array(t.x.length); // [n, dim]
  for (let i = 0; i < t.n; i++)
    for (let d = 0; d < t.dim; d++) x[i * t.dim + d] = t.x[i * t.dim + p[d]!]!;
  return { ...t, x };
}

/**
 * `permuted`: three experiences of the same 4 classes with permuted inputs (domain-incremental,
 * where EWC, SI, LwF, A-GEM and GEM help). `split`: classes {0,1} then {2,3} (class-incremental,
 * where only memory-based strategies help). Both are blobs in 32 dimensions.
 */
export function scenario(name: Scenario['name']): Scenario {
  const dim = 32;
  if (name === 'permuted') {
    const train = blobs({ classes: 4, perClass: 100, dim, spread: 1, seed: 3 });
    const test = blobs({ classes: 4, perClass: 50, dim, spread: 1, seed: 3 });
    const seeds = [0, 7, 9];
    return {
      name,
      dim,
      classes: 4,
      epochs: 5,
      train: seeds.map((s) => batches(permute(train, s), 16)),
      test: seeds.map((s) => batches(permute(test, s), 100)),
    };
  }
  const train = blobs({ classes: 4, perClass: 100, dim, spread: 3, seed: 3 });
  const test = blobs({ classes: 4, perClass: 50, dim, spread: 3, seed: 3 });
  const parts = [
    [0, 1],
    [2, 3],
  ];
  return {
    name,
    dim,
    classes: 4,
    epochs: 10,
    train: parts.map((c) => batches(subset(train, c), 16)),
    test: parts.map((c) => batches(subset(test, c), 100)),
  };
}

/** The learner options every scenario run uses. */
export function toyOptions(
  s: Scenario,
  strategy: StrategyConfig | StrategyConfig[],
  seed = 1,
): LearnerOptions {
  return {
    model: { kind: 'mlp', inputShape: s.dim, hidden: [64], outputs: s.classes },
    optimizer: { name: 'sgd', lr: 0.1 },
    strategy,
    seed,
  };
}

/** Trains every experience and returns the accuracy matrix R[i][j]. */
export async function runScenario(s: Scenario, learner: ContinualLearner): Promise<number[][]> {
  const R: number[][] = [];
  for (const [e, train] of s.train.entries()) {
    await learner.trainExperience(train, { epochs: s.epochs, experience: e });
    const row: number[] = [];
    for (const t of s.test) row.push((await learner.evaluate(t)).accuracy!);
    R.push(row);
  }
  return R;
}
