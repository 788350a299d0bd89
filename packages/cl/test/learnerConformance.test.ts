// The learners' numerics on every backend present: `ContinualLearner` with every registered
// strategy trains two small class-incremental experiences from one seed on cpu (the reference),
// wasm and native tensorflow, and every step's loss and the evaluation after each experience
// must agree across backends within float32 tolerance. backendConformance.test.ts checks the
// kernels with models in raw ops; this suite checks what users run: the strategies' penalties,
// projections, memories, refits and the learner's own optimizer on top of those kernels.
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackendName } from '../src/backend.js';
import type { Batch } from '../src/batch.js';
import { ContinualLearner, type LearnerOptions } from '../src/continualLearner.js';
import type { ModelSpec } from '../src/modelRegistry.js';
import type { OptimizerConfig } from '../src/optimizer.js';
import { type StrategyConfig, strategyNames } from '../src/strategyRegistry.js';
import { batches, blobs, subset } from './synthetic.js';
import { conformanceBackends } from './tfBackend.js';

/**
 * Relative difference allowed between a backend's number and cpu's, `|a - b| / max(1, |b|)`
 * (absolute below 1, where a loss near 0 makes a relative figure meaningless). The backends
 * round float32 differently (XNNPACK and Eigen reorder and fuse the sums of a matMul or a
 * convolution; wasm and TensorFlow have their own exp and log), which puts ~1e-7 relative into
 * every op, and 16 steps plus the refits and evaluations carry it on. Measured on x86-64: at
 * most 4.3e-7 on wasm and 3.1e-7 on tensorflow (up to 2e-6 when every case ran on Adam, whose
 * step divides by sqrt(v) and so magnifies round-off in near-zero gradients). 2e-5 leaves a ~50x
 * margin for other CPUs' kernels, while a wasm Conv2DBackpropFilter off by 0.1% already moves the
 * CNN losses by 1.4e-4 within three steps. The steps use SGD with momentum, with one Adam case:
 * Adam divides out a constant factor in a gradient, which would hide exactly such a kernel error.
 */
const TOLERANCE = 2e-5;

const mlp: ModelSpec = { kind: 'mlp', inputShape: 8, hidden: [16], outputs: 4 };
const cnn: ModelSpec = {
  kind: 'cnn',
  inputShape: [6, 6, 1],
  conv: [{ filters: 4, kernel: 3 }], // [6, 6, 4], pooled to [3, 3, 4]
  outputs: 4,
};

/**
 * The configurations run on the MLP, per registered strategy name (every one must appear), with
 * memories and refits sized to the tiny experiences so each strategy's own code path runs.
 */
const STRATEGIES: Record<string, StrategyConfig[]> = {
  naive: [{ name: 'naive' }],
  joint: [{ name: 'joint', epochs: 2, batchSize: 8 }],
  ewc: [
    { name: 'ewc', lambda: 100 },
    { name: 'ewc', mode: 'online', lambda: 100, gamma: 0.9 },
  ],
  si: [{ name: 'si', c: 1 }],
  lwf: [{ name: 'lwf', alpha: 1, temperature: 2 }],
  agem: [
    { name: 'agem', memorySize: 32, sampleSize: 16 },
    { name: 'agem', memorySize: 32, sampleSize: 16, layerwise: true },
  ],
  gem: [{ name: 'gem', patternsPerExperience: 16 }],
  replay: [
    { name: 'replay', memorySize: 16 },
    { name: 'replay', memorySize: 16, policy: 'classBalanced' },
  ],
  gdumb: [{ name: 'gdumb', memorySize: 32, epochs: 2, batchSize: 8 }],
};

interface Case {
  model: ModelSpec;
  strategy: StrategyConfig | StrategyConfig[];
  optimizer?: OptimizerConfig;
}

const CASES: Record<string, Case> = {};
for (const configs of Object.values(STRATEGIES))
  for (const c of configs) CASES[`MLP, ${JSON.stringify(c)}`] = { model: mlp, strategy: c };
CASES['MLP, replay composed with EWC'] = {
  model: mlp,
  strategy: [
    { name: 'replay', memorySize: 16 },
    { name: 'ewc', lambda: 100 },
  ],
};
// The learner's own Adam (its bias correction, sqrt and division) on every backend.
CASES['MLP, naive, Adam'] = {
  model: mlp,
  strategy: { name: 'naive' },
  optimizer: { name: 'adam', lr: 0.05 },
};
// Convolution gradients are where wasm runs this package's own kernels (src/kernels/).
CASES['CNN, naive'] = { model: cnn, strategy: { name: 'naive' } };
CASES['CNN, replay'] = { model: cnn, strategy: { name: 'replay', memorySize: 16 } };
CASES['CNN, A-GEM'] = {
  model: cnn,
  strategy: { name: 'agem', memorySize: 32, sampleSize: 16 },
};

/** Two experiences (classes {0, 1} then {2, 3}): train batches of 8 and one test batch each. */
function experiences(dim: number): { train: Batch[][]; test: Batch[][] } {
  const train = blobs({ classes: 4, perClass: 16, dim, spread: 0.5, seed: 11 });
  const test = blobs({ classes: 4, perClass: 8, dim, spread: 0.5, seed: 11 });
  const parts = [
    [0, 1],
    [2, 3],
  ];
  return {
    train: parts.map((c) => batches(subset(train, c), 8)), // 4 batches each
    test: parts.map((c) => batches(subset(test, c), 16)),
  };
}
const DATA = { 8: experiences(8), 36: experiences(36) };

/** What one run yields: each step's loss, then loss and accuracy on both test sets after each experience. */
interface Trace {
  losses: number[];
  evals: { loss: number; accuracy: number }[];
}

async function trace(backend: BackendName, c: Case): Promise<Trace> {
  await tf.setBackend(backend);
  expect(tf.getBackend()).toBe(backend);
  const before = tf.memory().numTensors;
  const options: LearnerOptions = {
    model: c.model,
    optimizer: c.optimizer ?? { name: 'momentum', lr: 0.05, momentum: 0.9 },
    strategy: c.strategy,
    seed: 5,
  };
  const l = new ContinualLearner(options);
  const { train, test } = c.model.kind === 'cnn' ? DATA[36] : DATA[8];
  const out: Trace = { losses: [], evals: [] };
  for (const [e, batches] of train.entries()) {
    await l.trainExperience(batches, {
      experience: e,
      epochs: 2,
      onStep: ({ loss }) => {
        if (loss !== null) out.losses.push(loss);
      },
    });
    for (const t of test) {
      const r = await l.evaluate(t);
      out.evals.push({ loss: r.loss, accuracy: r.accuracy! });
    }
  }
  l.dispose();
  expect(tf.memory().numTensors, `${backend} frees every tensor`).toBe(before);
  return out;
}

function relative(a: number, reference: number): number {
  return Math.abs(a - reference) / Math.max(1, Math.abs(reference));
}

let present: BackendName[] = [];
const worst = new Map<BackendName, { rel: number; where: string }>();
beforeAll(async () => {
  present = await conformanceBackends();
});
afterAll(() => {
  const line = [...worst].map(([b, w]) => `${b} ${w.rel.toExponential(1)} (${w.where})`);
  console.log(`[streams/cl] learner conformance, largest difference from cpu: ${line.join('; ')}`);
});

describe('learner conformance: same seed, same losses and metrics on every backend present', () => {
  it('has a case for every registered strategy', () => {
    expect(Object.keys(STRATEGIES).sort()).toEqual(strategyNames().sort());
  });

  for (const [name, c] of Object.entries(CASES)) {
    it(name, async () => {
      const reference = await trace('cpu', c);
      const trainsOnStream = ![c.strategy].flat().some((s) => ['gdumb', 'joint'].includes(s.name));
      expect(reference.losses, 'one loss per stream step').toHaveLength(trainsOnStream ? 16 : 0);
      // It learns: the first experience's classes are told apart after it.
      expect(reference.evals[0]!.accuracy).toBeGreaterThan(0.7);
      for (const backend of present.filter((b) => b !== 'cpu')) {
        const got = await trace(backend, c);
        expect(got.losses).toHaveLength(reference.losses.length);
        const check = (value: number, ref: number, where: string) => {
          const rel = relative(value, ref);
          if (rel >= (worst.get(backend)?.rel ?? -1))
            worst.set(backend, { rel, where: `${name} ${where}` });
          expect(rel, `${backend} ${where}: ${value} vs cpu ${ref}`).toBeLessThanOrEqual(TOLERANCE);
        };
        got.losses.forEach((l, i) => {
          check(l, reference.losses[i]!, `step ${i} loss`);
        });
        got.evals.forEach((e, i) => {
          const ref = reference.evals[i]!;
          check(e.loss, ref.loss, `eval ${i} loss`);
          // The same argmax on every test row: no prediction sits within 1e-4 of a tie here.
          expect(e.accuracy, `${backend} eval ${i} accuracy`).toBe(ref.accuracy);
        });
      }
    });
  }

  it('runs on wasm, and on native tensorflow where setup built it (STREAMS_EXPECT_NATIVE=1)', () => {
    expect(present).toEqual(
      process.env.STREAMS_EXPECT_NATIVE === '1'
        ? ['cpu', 'wasm', 'tensorflow']
        : expect.arrayContaining(['cpu', 'wasm']),
    );
  });
});
