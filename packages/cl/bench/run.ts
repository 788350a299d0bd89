// Training steps/s (and CPU time per step) per strategy against plain tfjs `optimizer.minimize`
// on the same model, in paired, alternating rounds (median ratios), on the backend selectBackend()
// picks (STREAMS_TF_BACKEND forces one).
// Usage: pnpm --filter @streams/cl bench [-- --rounds 5 --steps 4 --only mlp]
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { rng } from '@streams/core';
import { type BenchEntry, benchEntry, median, writeBenchResults } from '@streams/testkit';
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
    name: 'cnn 2 conv b128',
    model: {
      kind: 'cnn',
      inputShape: [28, 28, 1],
      conv: [{ filters: 8 }, { filters: 16 }],
      outputs: 10,
    },
    batch: 128,
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

/** Wall and CPU milliseconds per step of `steps` calls of `fn`. */
async function timeSteps(fn: () => unknown): Promise<{ wall: number; cpu: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < stepsPerRound; i++) await fn();
  const c = process.cpuUsage(c0);
  return {
    wall: (performance.now() - t0) / stepsPerRound,
    cpu: (c.user + c.system) / 1000 / stepsPerRound,
  };
}

async function main(): Promise<void> {
  const backend = await useTestBackend();
  const entries: BenchEntry[] = [];
  console.log(
    `[cl bench] backend ${backend}, ${rounds} paired rounds of ${stepsPerRound} steps, load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores`,
  );
  for (const c of cases) {
    if (args.only && !c.name.startsWith(args.only)) continue;
    const data = Array.from({ length: 4 }, (_, i) => randomBatch(784, c.batch, i));
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
    const steppers = new Map<string, () => unknown>();
    let k = 0;
    steppers.set('plain', () => plainStep(data[k++ % data.length]!));
    for (const [label, l] of learners)
      steppers.set(label, () => l.trainBatch(data[k++ % data.length]!));
    for (const step of steppers.values()) await step(); // warm-up
    const times = new Map<string, { wall: number; cpu: number }[]>();
    for (let r = 0; r < rounds; r++) {
      // Alternate the order each round so drift on a shared machine hits both sides alike.
      const keys = [...steppers.keys()];
      for (const key of r % 2 === 0 ? keys : keys.reverse()) {
        const list = times.get(key) ?? [];
        list.push(await timeSteps(steppers.get(key)!));
        times.set(key, list);
      }
    }
    for (const s of strategies) {
      const ref = s.label === 'naive' ? 'plain' : 'naive';
      const refName = ref === 'plain' ? 'tfjs optimizer.minimize' : 'naive learner';
      for (const kind of ['wall', 'cpu'] as const) {
        const mine = times.get(s.label)!.map((t) => t[kind]);
        const theirs = times.get(ref)!.map((t) => t[kind]);
        const entry = benchEntry({
          name: `cl ${c.name} ${s.label}${kind === 'cpu' ? ' (CPU time)' : ''}`,
          unit: kind === 'wall' ? 'steps/s' : 'CPU ms/step',
          value: kind === 'wall' ? 1000 / median(mine) : median(mine),
          reference: refName,
          referenceValue: kind === 'wall' ? 1000 / median(theirs) : median(theirs),
          lowerIsBetter: kind === 'cpu',
          target: s.target,
        });
        // The ratio is the median of the rounds' own ratios (each round runs both sides back to back).
        entry.ratio = median(theirs.map((t, i) => t / mine[i]!));
        entries.push(entry);
      }
    }
    for (const l of learners.values()) l.dispose();
    plainLearner.dispose();
    plainOpt.dispose();
  }
  writeBenchResults(entries);
  console.log(
    `[cl bench] ${backend} backend; ratios are medians of paired rounds (higher is better); on a shared machine the CPU-time rows are the steadier figure`,
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
