// Training steps/s per strategy against plain tfjs `optimizer.minimize` on the same model, in
// paired, alternating rounds (medians), on the active backend (STREAMS_TF_BACKEND, else cpu).
// Usage: pnpm --filter @streams/cl bench [-- --rounds 5 --steps 4 --only mlp]
import { parseArgs } from 'node:util';
import { rng } from '@streams/core';
import { type BenchEntry, benchEntry, writeBenchResults } from '@streams/testkit';
import * as tf from '@tensorflow/tfjs-core';
import type { Batch } from '../src/batch.js';
import { ContinualLearner } from '../src/continualLearner.js';
import { perSampleLoss } from '../src/losses.js';
import type { ModelSpec } from '../src/modelRegistry.js';
import type { StrategyConfig } from '../src/strategyRegistry.js';
import { useTestBackend } from '../test/tfBackend.js';

const { values: args } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    rounds: { type: 'string', default: '3' },
    steps: { type: 'string', default: '3' },
    only: { type: 'string' },
  },
});
const rounds = Number(args.rounds);
const stepsPerRound = Number(args.steps);

interface Case {
  name: string;
  model: ModelSpec;
  batch: number;
}

const cases: Case[] = [
  {
    name: 'mlp 784-256-256-10 b128',
    model: { kind: 'mlp', inputShape: 784, hidden: [256, 256], outputs: 10 },
    batch: 128,
  },
  {
    name: 'cnn 2 conv b32',
    model: {
      kind: 'cnn',
      inputShape: [28, 28, 1],
      conv: [{ filters: 8 }, { filters: 16 }],
      outputs: 10,
    },
    batch: 32,
  },
];

// Each strategy as benchmarked; the options that set its cost are stated in the figure's name.
const strategies: { label: string; config: StrategyConfig; target: number | null }[] = [
  { label: 'naive', config: { name: 'naive' }, target: 0.95 },
  { label: 'ewc', config: { name: 'ewc', lambda: 100, fisherSamples: 64 }, target: 1 / 1.3 },
  { label: 'si', config: { name: 'si' }, target: null },
  { label: 'lwf', config: { name: 'lwf' }, target: null },
  { label: 'agem (ref 128)', config: { name: 'agem', sampleSize: 128 }, target: 1 / 2.2 },
  {
    label: 'agem layerwise (ref 128)',
    config: { name: 'agem', sampleSize: 128, layerwise: true },
    target: 1 / 2.2,
  },
  {
    label: 'gem 10 past (ref 16 each)',
    config: { name: 'gem', refBatchSize: 16, patternsPerExperience: 64 },
    target: 1 / 4,
  },
  { label: 'replay (draw = batch)', config: { name: 'replay', memorySize: 1000 }, target: 1 / 2 },
];

function randomBatch(size: number, n: number, seed: number): Batch {
  const r = rng(seed, 'bench');
  const x = new Float32Array(n * size); // [n, size]
  for (let i = 0; i < x.length; i++) x[i] = r.float();
  return { x, y: Int32Array.from({ length: n }, () => r.int(10)) };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function main(): Promise<void> {
  const backend = await useTestBackend();
  const entries: BenchEntry[] = [];
  console.log(`[cl bench] backend ${backend}, ${rounds} paired rounds of ${stepsPerRound} steps`);
  for (const c of cases) {
    if (args.only && !c.name.startsWith(args.only)) continue;
    const data = Array.from({ length: 4 }, (_, i) => randomBatch(784, c.batch, i));
    const stepsPerSecond: Record<string, number[]> = {};
    // Plain tfjs: the same model, its forward pass and loss, optimizer.minimize, the loss read back.
    const plainLearner = new ContinualLearner({
      model: c.model,
      optimizer: { name: 'sgd', lr: 0.01 },
    });
    const plainOpt = tf.train.sgd(0.01);
    const model = plainLearner.model;
    const plainStep = (b: Batch) => {
      const cost = tf.tidy(() => {
        const x = tf.tensor(b.x, [c.batch, ...model.inputShape]);
        const y = tf.tensor1d(b.y as Int32Array, 'int32');
        return plainOpt.minimize(
          () => tf.mean(perSampleLoss('classification', model.forward(x), y)),
          true,
          model.params.map((p) => p.variable),
        )!;
      });
      cost.dataSync();
      cost.dispose();
    };
    const learners = new Map<string, ContinualLearner>();
    for (const s of strategies) learners.set(s.label, await prepared(c, s.config, data));
    const time = async (fn: () => unknown) => {
      const t0 = performance.now();
      for (let i = 0; i < stepsPerRound; i++) await fn();
      return (stepsPerRound * 1000) / (performance.now() - t0);
    };
    plainStep(data[0]!); // warm-up
    for (const l of learners.values()) await l.trainBatch(data[0]!);
    for (let r = 0; r < rounds; r++) {
      // Alternate the order each round so drift on a shared machine hits both sides alike.
      const order = r % 2 === 0 ? ['plain', ...learners.keys()] : [...learners.keys(), 'plain'];
      for (const key of order) {
        const l = learners.get(key);
        let k = 0;
        const sps = await time(
          l
            ? () => l.trainBatch(data[k++ % data.length]!)
            : () => plainStep(data[k++ % data.length]!),
        );
        const list = stepsPerSecond[key] ?? [];
        list.push(sps);
        stepsPerSecond[key] = list;
      }
    }
    const plain = median(stepsPerSecond.plain!);
    const naive = median(stepsPerSecond.naive!);
    for (const s of strategies) {
      const v = median(stepsPerSecond[s.label]!);
      if (s.label === 'naive') {
        entries.push(
          benchEntry({
            name: `cl ${c.name} naive`,
            unit: 'steps/s',
            value: v,
            reference: 'tfjs optimizer.minimize',
            referenceValue: plain,
            target: s.target,
          }),
        );
      } else {
        entries.push(
          benchEntry({
            name: `cl ${c.name} ${s.label}`,
            unit: 'steps/s',
            value: v,
            reference: 'naive learner',
            referenceValue: naive,
            target: s.target,
          }),
        );
      }
    }
    for (const l of learners.values()) l.dispose();
    plainLearner.dispose();
    plainOpt.dispose();
  }
  writeBenchResults(entries);
  console.log(
    `[cl bench] ${backend} backend; the machine has 2 cores shared with other work: compare ratios, not absolute figures`,
  );
}

/** A learner in its second experience (tenth for GEM), so every strategy's penalty, projection or replay is active. */
async function prepared(c: Case, config: StrategyConfig, data: Batch[]): Promise<ContinualLearner> {
  const l = new ContinualLearner({
    model: c.model,
    optimizer: { name: 'sgd', lr: 0.01 },
    strategy: config,
    seed: 1,
  });
  const past = config.name === 'gem' ? 10 : 1;
  for (let e = 0; e < past; e++) {
    await l.trainExperience([data[e % data.length]!], { experience: e });
  }
  await l.beginExperience(past);
  return l;
}

await main();
