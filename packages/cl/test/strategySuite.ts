import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ContinualLearner } from '../src/continualLearner.js';
import type { StrategyConfig } from '../src/strategyRegistry.js';
import { runScenario, type Scenario, scenario, toyOptions } from './scenarios.js';
import { batches, blobs } from './synthetic.js';
import { useTestBackend } from './tfBackend.js';

/** What one strategy's conformance run needs. */
export interface StrategySuiteOptions {
  config: StrategyConfig;
  /** The toy problem where the strategy is expected to beat naive fine-tuning. */
  scenario: Scenario['name'];
  /** Accuracy on the first experience after the last one that it must reach, at least. */
  keepsAtLeast: number;
  /** Whether the strategy combines with replay (and so is tested combined). */
  composesWithReplay: boolean;
  /**
   * Another configuration of a strategy that already ran the whole suite: only its learning is
   * checked (the state, leak and composition code paths are the same).
   */
  variant?: boolean;
}

const naiveCache = new Map<string, number[][]>();

async function naiveOn(name: Scenario['name']): Promise<number[][]> {
  let R = naiveCache.get(name);
  if (!R) {
    const s = scenario(name);
    const l = new ContinualLearner(toyOptions(s, { name: 'naive' }));
    R = await runScenario(s, l);
    l.dispose();
    naiveCache.set(name, R);
  }
  return R;
}

async function weights(l: ContinualLearner): Promise<Float32Array[]> {
  return Promise.all(l.model.params.map((p) => p.variable.data() as Promise<Float32Array>));
}

/**
 * The conformance suite every strategy passes: it beats naive on a toy problem by a stated
 * share, its state round-trips through a checkpoint (training continues bit for bit), it leaks
 * no tensor over 1,000 steps, and it composes with replay where it claims to.
 */
export function testStrategy(o: StrategySuiteOptions): void {
  const name = o.config.name;
  describe(`strategy conformance: ${name}`, () => {
    beforeAll(async () => {
      await useTestBackend();
    });

    it(`beats naive fine-tuning on the ${o.scenario} toy (keeps >= ${o.keepsAtLeast} of experience 0)`, async () => {
      const s = scenario(o.scenario);
      const naive = await naiveOn(o.scenario);
      const l = new ContinualLearner(toyOptions(s, o.config));
      const R = await runScenario(s, l);
      l.dispose();
      const last = R.length - 1;
      expect(R[0]![0]).toBeGreaterThan(0.7); // it learns at all
      expect(R[last]![0]).toBeGreaterThanOrEqual(o.keepsAtLeast);
      expect(R[last]![0]).toBeGreaterThan(naive[last]![0]! + 0.1);
    });

    if (o.variant) return;

    it('continues bit for bit after a checkpoint taken mid-experience', async () => {
      const s = scenario('split');
      const train = s.train.map((b) => b.slice(0, 8));
      const opts = toyOptions(s, o.config, 5);
      const dir = await mkdtemp(join(tmpdir(), `streams-cl-${name}-`));
      try {
        const a = new ContinualLearner(opts);
        await a.trainExperience(train[0]!, { experience: 0, epochs: 2 });
        const ac = new AbortController();
        await expect(
          a.trainExperience(train[1]!, {
            experience: 1,
            epochs: 2,
            signal: ac.signal,
            onStep: async (info) => {
              if (info.epoch === 0 && info.batch === 4) {
                await a.save(dir, { callerData: { at: info.batch } });
                ac.abort();
              }
            },
          }),
        ).rejects.toMatchObject({ name: 'AbortError' });
        // The uninterrupted reference continues the same learner from where it was saved.
        await a.trainExperience(train[1]!, { experience: 1, epochs: 2 });
        const { learner: b, callerData } = await ContinualLearner.loadWithData(dir);
        expect(callerData).toEqual({ at: 4 });
        expect(b.progress).toMatchObject({ experience: 1, inExperience: true, epoch: 0, batch: 5 });
        await b.trainExperience(train[1]!, { experience: 1, epochs: 2 });
        const [wa, wb] = [await weights(a), await weights(b)];
        wa.forEach((w, i) => {
          expect(Buffer.from(wb[i]!.buffer).equals(Buffer.from(w.buffer))).toBe(true);
        });
        expect(b.memory()).toEqual(a.memory());
        expect(b.progress).toEqual(a.progress);
        a.dispose();
        b.dispose();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('keeps tf.memory().numTensors flat over 1,000 steps', async () => {
      const toy = blobs({ classes: 4, perClass: 500, dim: 8, seed: 2 });
      const data = batches(toy, 4); // 500 batches of 4
      const before = tf.memory().numTensors;
      const l = new ContinualLearner({
        model: { kind: 'mlp', inputShape: 8, hidden: [8], outputs: 4 },
        optimizer: { name: 'adam', lr: 0.01 },
        strategy: o.config,
        seed: 3,
      });
      await l.trainExperience(data, { experience: 0 });
      await l.beginExperience(1);
      for (let i = 0; i < 10; i++) await l.trainBatch(data[i]!);
      const settled = tf.memory().numTensors;
      for (let i = 10; i < 500; i++) await l.trainBatch(data[i]!);
      expect(tf.memory().numTensors).toBe(settled);
      await l.endExperience();
      l.dispose();
      expect(tf.memory().numTensors).toBe(before);
    });

    if (o.composesWithReplay) {
      it('composes with replay in class-incremental learning', async () => {
        const s = scenario('split');
        const naive = await naiveOn('split');
        const l = new ContinualLearner(
          toyOptions(s, [{ name: 'replay', memorySize: 200 }, o.config]),
        );
        const R = await runScenario(s, l);
        expect(l.strategies.map((x) => x.name)).toEqual(['replay', name]);
        l.dispose();
        expect(R[1]![0]).toBeGreaterThan(naive[1]![0]! + 0.3);
      });
    } else {
      it('refuses to be combined with other strategies', () => {
        const s = scenario('split');
        expect(() => new ContinualLearner(toyOptions(s, [{ name: 'replay' }, o.config]))).toThrow(
          /cannot be combined/,
        );
      });
    }
  });
}
