import { isStreamsError, rng } from '@streams/core';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { batches, blobs, subset } from '../test/synthetic.js';
import { useTestBackend } from '../test/tfBackend.js';
import type { Batch } from './batch.js';
import { ContinualLearner, type LearnerOptions } from './continualLearner.js';
import type { StepInfo } from './learnerTypes.js';

const base: LearnerOptions = {
  model: { kind: 'mlp', inputShape: 4, hidden: [8], outputs: 3 },
  optimizer: { name: 'sgd', lr: 0.1 },
  seed: 1,
};

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    return isStreamsError(err) ? err.code : (err as Error).name;
  }
  return 'resolved';
}

const weights = (l: ContinualLearner) =>
  l.model.params.map((p) => Array.from(p.variable.dataSync()));

describe('ContinualLearner', () => {
  beforeAll(useTestBackend);
  const data = batches(blobs({ classes: 3, perClass: 20, dim: 4, seed: 2 }), 6);

  it('same seed, same numbers; another seed, other numbers', async () => {
    const run = async (seed: number) => {
      const l = new ContinualLearner({
        ...base,
        seed,
        model: { ...base.model, dropout: 0.3 } as never,
        strategy: 'replay',
      });
      const losses: (number | null)[] = [];
      await l.trainExperience(data, { epochs: 2, onStep: (i) => void losses.push(i.loss) });
      const w = weights(l);
      l.dispose();
      return { losses, w };
    };
    const [a, b, c] = [await run(1), await run(1), await run(2)];
    expect(b).toEqual(a);
    expect(c.w).not.toEqual(a.w);
    expect(a.losses).toHaveLength(20);
  });

  it('reports each step to onStep and counts replayed rows', async () => {
    const l = new ContinualLearner({ ...base, strategy: { name: 'replay', batchSize: 4 } });
    const infos: StepInfo[] = [];
    await l.trainExperience(data.slice(0, 3), { experience: 2, onStep: (i) => void infos.push(i) });
    expect(
      infos.map((i) => [i.experience, i.epoch, i.batch, i.step, i.samples, i.trainedSamples]),
    ).toEqual([
      [2, 0, 0, 1, 6, 6],
      [2, 0, 1, 2, 6, 10],
      [2, 0, 2, 3, 6, 10],
    ]);
    expect(l.progress).toMatchObject({
      experience: 2,
      inExperience: false,
      finished: [2],
      step: 3,
    });
    l.dispose();
  });

  it('sample weights scale each sample in the loss: sum(w * loss) / n', async () => {
    const l = new ContinualLearner(base);
    const b: Batch = { ...data[0]!, weight: Float32Array.from([0, 1, 2, 0.5, 1, 3]) };
    const logits = await l.predict(b.x);
    let expected = 0;
    for (let i = 0; i < 6; i++) {
      const z = Array.from(logits.subarray(i * 3, i * 3 + 3));
      const m = Math.max(...z);
      const lse = m + Math.log(z.reduce((a, v) => a + Math.exp(v - m), 0));
      expected += b.weight![i]! * (lse - z[(b.y as Int32Array)[i]!]!);
    }
    const { loss } = await l.trainBatch(b);
    expect(loss).toBeCloseTo(expected / 6, 5);
    l.dispose();
  });

  it('task-incremental with a multi-head model: task ids pick the head', async () => {
    const l = new ContinualLearner({
      ...base,
      model: { kind: 'mlp', inputShape: 4, hidden: [8], outputs: 2, heads: 2 },
      mode: 'task-incremental',
    });
    const toy = blobs({ classes: 4, perClass: 10, dim: 4, seed: 3 });
    const t0 = subset(toy, [0, 1], 0);
    const t1 = subset(toy, [2, 3], 1);
    t1.y = t1.y.map((c) => c - 2);
    await l.trainExperience(batches(t0, 5), { epochs: 3 });
    await l.trainExperience(batches(t1, 5), { epochs: 3 });
    const r = await l.evaluate([...batches(t0, 20), ...batches(t1, 20)]);
    expect(Object.keys(r.perTask)).toEqual(['0', '1']);
    expect(r.perTask[0]!.count + r.perTask[1]!.count).toBe(r.count);
    // predict with task 1 equals the second head's slice of the raw outputs.
    const x = t1.x.slice(0, 8);
    const out = await l.predict(x, { task: Int32Array.from([1, 1]) });
    const raw = tf.tidy(() => l.model.forward(tf.tensor2d(x, [2, 4])).dataSync());
    expect(Array.from(out)).toEqual([raw[2], raw[3], raw[6], raw[7]]);
    l.dispose();
  });

  it('task-incremental with masked logits: predictions stay inside the task classes', async () => {
    const l = new ContinualLearner({
      ...base,
      model: { kind: 'mlp', inputShape: 4, hidden: [8], outputs: 4 },
      mode: 'task-incremental',
      taskClasses: [
        [0, 1],
        [2, 3],
      ],
    });
    const toy = blobs({ classes: 4, perClass: 10, dim: 4, seed: 3 });
    const all = subset(toy, [0, 1, 2, 3]);
    const task = Int32Array.from(all.y, (c) => (c < 2 ? 0 : 1));
    await l.trainExperience(batches({ ...all, task }, 8));
    const r = await l.evaluate(batches({ ...all, task }, 40), { confusion: true });
    // Off-task confusion cells are empty: masked logits never win.
    expect(
      r.confusion![0]![2]! + r.confusion![0]![3]! + r.confusion![2]![0]! + r.confusion![3]![1]!,
    ).toBe(0);
    expect(r.confusion!.flat().reduce((a, v) => a + v, 0)).toBe(r.count);
    l.dispose();
  });

  it('rejects bad batches and options with clear errors', async () => {
    const l = new ContinualLearner(base);
    const x = new Float32Array(8);
    expect(await codeOf(l.trainBatch({ x, y: Int32Array.from([0, 3]) }))).toBe(
      'STREAMS_INVALID_ARGUMENT',
    );
    expect(await codeOf(l.trainBatch({ x: new Float32Array(7), y: Int32Array.from([0]) }))).toBe(
      'STREAMS_INVALID_ARGUMENT',
    );
    expect(await codeOf(l.trainBatch({ x, y: Float32Array.from([0, 1]) as never }))).toBe(
      'STREAMS_INVALID_ARGUMENT',
    );
    expect(
      await codeOf(
        l.trainBatch({ x, y: Int32Array.from([0, 1]), weight: Float32Array.from([1, -1]) }),
      ),
    ).toBe('STREAMS_INVALID_ARGUMENT');
    expect(await codeOf(l.trainBatch({ x: [1, 2, 3, 4] as never, y: Int32Array.from([0]) }))).toBe(
      'STREAMS_INVALID_ARGUMENT',
    );
    l.dispose();
    const tl = new ContinualLearner({
      ...base,
      model: { kind: 'mlp', inputShape: 4, hidden: [], outputs: 3, heads: 2 },
      mode: 'task-incremental',
    });
    expect(await codeOf(tl.trainBatch({ x, y: Int32Array.from([0, 1]) }))).toBe(
      'STREAMS_INVALID_ARGUMENT',
    );
    expect(
      await codeOf(tl.trainBatch({ x, y: Int32Array.from([0, 1]), task: Int32Array.from([0, 2]) })),
    ).toBe('STREAMS_INVALID_ARGUMENT');
    tl.dispose();
    const tensors = tf.memory().numTensors;
    for (const bad of [
      { ...base, optimizer: { name: 'rmsprop', lr: 0.1 } },
      { ...base, optimizer: { name: 'sgd', lr: 0 } },
      { ...base, strategy: 'icarl' },
      { ...base, mode: 'domain' },
      { ...base, mode: 'task-incremental' },
      { ...base, strategy: [{ name: 'gdumb' }, { name: 'ewc' }] },
      { ...base, strategy: { name: 'ewc', lambda: -1 } },
    ]) {
      expect(await codeOf(() => new ContinualLearner(bad as never))).toBe('STREAMS_INVALID_CONFIG');
    }
    expect(tf.memory().numTensors).toBe(tensors); // refused learners leave no variables
  });

  it('needs re-iterable batches for several epochs, and stops between steps on abort', async () => {
    const l = new ContinualLearner(base);
    async function* once() {
      yield* data;
    }
    expect(await codeOf(l.trainExperience(once(), { epochs: 2 }))).toBe('STREAMS_INVALID_ARGUMENT');
    const l2 = new ContinualLearner(base);
    let calls = 0;
    await l2.trainExperience(() => once(), { epochs: 2, onStep: () => void calls++ });
    expect(calls).toBe(20);
    const ac = new AbortController();
    ac.abort();
    expect(await codeOf(l2.trainExperience(data, { signal: ac.signal }))).toBe('AbortError');
    expect(l2.progress).toMatchObject({ experience: 1, inExperience: true, batch: 0 });
    l.dispose();
    l2.dispose();
  });

  it('resumes from a data source that resumed itself (dataResumed)', async () => {
    const full = new ContinualLearner({ ...base, optimizer: { name: 'adam', lr: 0.01 } });
    await full.trainExperience(data);
    const part = new ContinualLearner({ ...base, optimizer: { name: 'adam', lr: 0.01 } });
    const ac = new AbortController();
    await codeOf(
      part.trainExperience(data, {
        signal: ac.signal,
        onStep: (i) => (i.batch === 3 ? ac.abort() : undefined),
      }),
    );
    expect(part.progress.batch).toBe(4);
    await part.trainExperience(data.slice(4), { dataResumed: true });
    expect(weights(part)).toEqual(weights(full));
    full.dispose();
    part.dispose();
  });

  it('evaluates regression models by loss only', async () => {
    const l = new ContinualLearner({
      ...base,
      model: { kind: 'mlp', inputShape: 4, hidden: [4], outputs: 2, task: 'regression' },
    });
    const b: Batch = { x: data[0]!.x, y: new Float32Array(12).fill(0.5) };
    await l.trainBatch(b);
    const r = await l.evaluate([b]);
    expect(r.accuracy).toBeUndefined();
    expect(r.count).toBe(6);
    expect(r.loss).toBeGreaterThan(0);
    l.dispose();
  });

  it("takes several batches' gradients in one grouped pass, equal to one pass per batch", () => {
    // Dense layers run grouped (a kernel copy per batch), conv layers group by group; a multi-head
    // model routes by task; weights, uneven sizes (padding) and an autoencoder are covered.
    const r = rng(4, 'groups');
    const specs: { options: LearnerOptions; sample: number; y: (n: number) => Batch['y'] }[] = [
      { options: base, sample: 4, y: (n) => Int32Array.from({ length: n }, () => r.int(3)) },
      {
        options: {
          ...base,
          mode: 'task-incremental',
          model: { kind: 'mlp', inputShape: 4, hidden: [5, 6], outputs: 2, heads: 2 },
        },
        sample: 4,
        y: (n) => Int32Array.from({ length: n }, () => r.int(2)),
      },
      {
        options: {
          ...base,
          model: {
            kind: 'cnn',
            inputShape: [6, 6, 2],
            conv: [{ filters: 3 }],
            hidden: [4],
            outputs: 3,
          },
        },
        sample: 72,
        y: (n) => Int32Array.from({ length: n }, () => r.int(3)),
      },
      {
        options: { ...base, model: { kind: 'mlpAutoencoder', inputShape: 6, hidden: [3] } },
        sample: 6,
        y: () => undefined,
      },
    ];
    for (const { options, sample, y } of specs) {
      const l = new ContinualLearner(options);
      const groups = [3, 5, 1].map((n) => {
        const batch: Batch = {
          x: Float32Array.from({ length: n * sample }, () => r.float() * 2 - 1),
          weight: Float32Array.from({ length: n }, () => r.float() * 2),
          task: Int32Array.from({ length: n }, () => r.int(2)),
        };
        const labels = y(n);
        if (labels) batch.y = labels;
        return { batch, n };
      });
      const [grouped, single] = tf.tidy(() => {
        const g = l.context.groupGradients(groups);
        const one = groups.map((b) => l.context.gradients(b.batch, b.n));
        return [g.map((t) => t.arraySync()), one.map((gs) => gs.map((t) => t.arraySync()))];
      });
      expect(grouped).toHaveLength(l.model.params.length);
      grouped.forEach((perBatch, p) => {
        (perBatch as unknown[]).forEach((got, k) => {
          const want = single[k]![p]!;
          const flat = (v: unknown): number[] =>
            Array.isArray(v) ? v.flatMap(flat) : [v as number];
          const [a, b] = [flat(got), flat(want)];
          expect(a).toHaveLength(b.length);
          expect(Math.max(...a.map((x, i) => Math.abs(x - b[i]!)))).toBeLessThan(1e-5);
          if (p === 0) expect(Math.max(...b.map(Math.abs))).toBeGreaterThan(1e-3);
        });
      });
      l.dispose();
    }
  });
});
