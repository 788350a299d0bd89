import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMnist } from '@streams/multistream';
import { describe, expect, it } from 'vitest';
import { BuiltinLearner } from './builtinLearner.js';
import type { Batch } from './learner.js';

const cfg = (strategy: Array<{ name: 'naive' | 'replay'; memorySize?: number }>) => ({
  name: 't',
  backend: 'builtin' as const,
  model: { kind: 'linear' as const },
  optimizer: { name: 'sgd' as const, lr: 0.1 },
  strategy,
});

const mnist = loadMnist(); // once: parsing the package's JSON takes seconds

async function digits(classes: number[], from: number, count: number): Promise<Batch[]> {
  const ds = await mnist;
  const idx: number[] = [];
  for (let i = 0; i < ds.numSamples; i++) if (classes.includes(ds.y[i]!)) idx.push(i);
  // Interleave classes (the dataset is in class order), then batches of 32.
  idx.sort((a, b) => ((a * 7919) % 1009) - ((b * 7919) % 1009));
  const pick = idx.slice(from, from + count);
  const out: Batch[] = [];
  for (let k = 0; k < pick.length; k += 32) {
    const part = pick.slice(k, k + 32);
    const x = new Float32Array(part.length * 784); // [batch, 784]
    for (const [j, i] of part.entries()) x.set(ds.x.subarray(i * 784, (i + 1) * 784), j * 784);
    out.push({ x, y: Int32Array.from(part, (i) => ds.y[i]!) });
  }
  return out;
}

const iterable = (b: Batch[]) => ({
  async *[Symbol.asyncIterator]() {
    yield* b;
  },
});

describe('the builtin learner (softmax regression, the stand-in until @streams/cl)', () => {
  it(
    'learns digits it has not seen, and saves and loads exactly',
    { timeout: 120_000 },
    async () => {
      const shape = { inputSize: 784, numClasses: 10, heads: 1, seed: 3 };
      const train = await digits([0, 1, 2], 0, 1200);
      const test = await digits([0, 1, 2], 1200, 600);
      const a = BuiltinLearner.create(cfg([{ name: 'replay', memorySize: 50 }]), shape);
      const before = await a.evaluate(iterable(test));
      await a.trainExperience(iterable(train.slice(0, 20)), { experience: 0, epochs: 1 });
      const dir = await mkdtemp(join(tmpdir(), 'streams-builtin-'));
      try {
        await a.save(dir);
        const b = await BuiltinLearner.load(dir);
        expect(await b.weightsHash()).toBe(await a.weightsHash());
        // Both continue identically (weights, replay memory and RNG were all saved).
        await a.trainExperience(iterable(train.slice(20)), { experience: 0, epochs: 2 });
        await b.trainExperience(iterable(train.slice(20)), {
          experience: 0,
          epochs: 2,
          continuing: true,
        });
        expect(await b.weightsHash()).toBe(await a.weightsHash());
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
      const after = await a.evaluate(iterable(test));
      expect(after.count).toBe(600);
      expect(before.accuracy).toBeLessThan(0.5);
      expect(after.accuracy).toBeGreaterThan(0.9);
      expect(after.loss).toBeLessThan(before.loss);
    },
  );

  it(
    'replay keeps an earlier task that naive fine-tuning forgets',
    { timeout: 120_000 },
    async () => {
      const shape = { inputSize: 784, numClasses: 10, heads: 1, seed: 1 };
      const t0 = await digits([0, 1], 0, 800);
      const t1 = await digits([2, 3], 0, 800);
      const test0 = await digits([0, 1], 800, 400);
      const acc = async (strategy: Parameters<typeof cfg>[0]) => {
        const l = BuiltinLearner.create(cfg(strategy), shape);
        await l.trainExperience(iterable(t0), { experience: 0, epochs: 1 });
        await l.trainExperience(iterable(t1), { experience: 1, epochs: 1 });
        return (await l.evaluate(iterable(test0))).accuracy;
      };
      const naive = await acc([]);
      const replay = await acc([{ name: 'replay', memorySize: 200 }]);
      expect(naive).toBeLessThan(0.2);
      expect(replay).toBeGreaterThan(naive + 0.5);
    },
  );
});
