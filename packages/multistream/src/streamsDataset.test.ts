import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import type { TensorDataset } from './datasetSpec.js';
import { type SampleBatch, StreamsDataset } from './streamsDataset.js';
import { tensorsToTfDataset } from './tfdata.js';

/** n samples of shape [2]: x = (i, -i), label i % 5, coarse label i % 2. */
function grid(n: number): TensorDataset {
  return {
    name: 'grid',
    x: Float32Array.from({ length: 2 * n }, (_, k) => (k % 2 === 0 ? k / 2 : -(k - 1) / 2)),
    y: Int32Array.from({ length: n }, (_, i) => i % 5),
    labels: { coarse: Int32Array.from({ length: n }, (_, i) => i % 2) },
    shape: [2],
    numClasses: 5,
    numSamples: n,
  };
}

async function collect(it: AsyncIterable<SampleBatch>): Promise<SampleBatch[]> {
  const out: SampleBatch[] = [];
  for await (const b of it) out.push(b);
  return out;
}

describe('StreamsDataset', () => {
  it('opens fashion-mnist by name at a time step; getData as Arrow and typed tensors', async () => {
    const ds = await StreamsDataset.open('fashion-mnist', { timestep: 10, batchSize: 16, seed: 3 });
    expect(ds.currentStep).toBe(10);
    const perm = ds.permutation;
    expect(perm.length).toBe(160);
    expect(new Set(perm).size).toBe(160);
    const table = ds.getData();
    expect(table.numRows).toBe(160);
    expect(table.schema.fields.map((f) => f.name)).toEqual(['step', 'index', 'label', 'x']);
    const i0 = perm[0]!;
    expect(table.getChild('index')!.get(0)).toBe(i0);
    expect(table.getChild('label')!.get(0)).toBe(ds.dataset.y[i0]);
    expect(table.getChild('step')!.get(159)).toBe(9);
    const row = table.getChild('x')!.get(0)!.toArray() as Float32Array;
    expect([...row]).toEqual([...ds.dataset.x.subarray(i0 * 784, (i0 + 1) * 784)]);
    const t = ds.getData({ format: 'tensors' });
    expect(t.x.length).toBe(160 * 784);
    expect([...t.index]).toEqual([...perm]);
    expect(t.y[5]).toBe(ds.dataset.y[perm[5]!]);
    expect(t.shape).toEqual([28, 28]);
  });

  it('is deterministic: opening at timestep t equals stepping there; steps are lazy but exact', async () => {
    const a = await StreamsDataset.open(grid(200), { timestep: 7, batchSize: 5, seed: 9 });
    const b = await StreamsDataset.open(grid(200), { batchSize: 5, seed: 9 });
    b.step(3).step(4);
    expect([...b.permutation]).toEqual([...a.permutation]);
    expect(b.permutation.length).toBe(35);
    const c = await StreamsDataset.open(grid(200), { timestep: 7, batchSize: 5, seed: 10 });
    expect([...c.permutation]).not.toEqual([...a.permutation]);
    expect(() => a.step(-1)).toThrow(/integer n >= 0/);
    const capped = await StreamsDataset.open(grid(200), { maxSteps: 3 });
    expect(() => capped.step(4)).toThrow(/passes maxSteps 3/);
  });

  it('initialBuffer samples at step 0; domains by name (other label columns too)', async () => {
    const ds = await StreamsDataset.open(grid(100), {
      batchSize: 4,
      initialBuffer: 30,
      domains: ['label', 'coarse'],
      timestep: 2,
    });
    expect(ds.permutation.length).toBe(34);
    expect(ds.waveform.columns).toEqual(['label', 'coarse']);
    expect(ds.waveform.numGroups).toBe(10);
    const table = ds.getData();
    expect(table.schema.fields.map((f) => f.name)).toEqual([
      'step',
      'index',
      'label',
      'coarse',
      'x',
    ]);
    await expect(StreamsDataset.open(grid(10), { domains: ['colour'] })).rejects.toThrow(
      /no domain column "colour".*label, coarse/,
    );
  });

  it('getStream: train experiences and the test windows after them, never past the current step', async () => {
    const ds = await StreamsDataset.open(grid(500), { batchSize: 4, seed: 1, timestep: 5 });
    const { train, test } = ds.getStream({ experienceSize: 2, testWindow: 1 });
    expect(train.map((e) => [e.from, e.to])).toEqual([
      [0, 2],
      [2, 4],
    ]);
    expect(test.map((e) => [e.id, e.from, e.to])).toEqual([
      [0, 2, 3],
      [1, 4, 5],
    ]);
    const perm = [...ds.permutation];
    expect([...train[1]!.indices]).toEqual(perm.slice(8, 16));
    expect([...test[1]!.indices]).toEqual(perm.slice(16, 20));
    // Batches the learners take: typed arrays, in draw order without shuffle.
    const batches = await collect(train[0]!.batches({ batchSize: 3 }));
    expect(batches.map((b) => b.y.length)).toEqual([3, 3, 2]);
    const { x, y } = train[0]!.gather();
    expect(batches.flatMap((b) => [...b.y])).toEqual([...y]);
    expect(x[2]).toBe(perm[1]); // x = (i, -i) of the second sample
    expect(batches[0]!.x).toBeInstanceOf(Float32Array);
    // Stepping on extends the stream without changing what was read.
    ds.step(1);
    const later = ds.getStream({ experienceSize: 2, testWindow: 1 });
    expect(later.train.length).toBe(3);
    expect([...later.train[1]!.indices]).toEqual([...train[1]!.indices]);
    expect(later.test.length).toBe(2); // experience 2's test window (step 6) is not drawn yet
    expect(() => ds.getStream({ experienceSize: 0 })).toThrow(
      /experienceSize must be an integer >= 1/,
    );
  });

  it('getLoader: batches over everything drawn, seeded shuffles that differ per iteration', async () => {
    const ds = await StreamsDataset.open(grid(300), { batchSize: 10, seed: 4, timestep: 5 });
    const loader = ds.getLoader({ batchSize: 16, shuffle: true });
    const first = (await collect(loader)).flatMap((b) => [...b.x.filter((_, k) => k % 2 === 0)]);
    const second = (await collect(loader)).flatMap((b) => [...b.x.filter((_, k) => k % 2 === 0)]);
    expect(first.length).toBe(50);
    expect([...first].sort((p, q) => p - q)).toEqual([...ds.permutation].sort((p, q) => p - q));
    expect(second).not.toEqual(first);
    const again = (await collect(ds.getLoader({ batchSize: 16, shuffle: true }))).flatMap((b) => [
      ...b.x.filter((_, k) => k % 2 === 0),
    ]);
    expect(again).toEqual(first);
    expect((await collect(ds.getLoader({ batchSize: 16, dropLast: true }))).length).toBe(3);
  });

  it('exhaustion is explicit: refill by default with an event, error on request', async () => {
    const events: unknown[] = [];
    const ds = await StreamsDataset.open(grid(20), {
      batchSize: 8,
      onEvent: (e) => events.push(e.attrs),
    });
    ds.step(3);
    expect(ds.permutation.length).toBe(24);
    expect(events).toEqual([{ step: 2, policy: 'refill', pass: 1, examples: 20 }]);
    const strict = await StreamsDataset.open(grid(20), { batchSize: 8, exhaustion: 'error' });
    strict.step(2);
    expect(() => strict.step(1)).toThrow(/exhausted at step 2/);
    expect(strict.currentStep).toBe(2);
    expect(strict.permutation.length).toBe(16);
  });

  it('getData as a tf.data.Dataset through the adapter entry', async () => {
    const ds = await StreamsDataset.open(grid(50), { batchSize: 4, timestep: 2 });
    const tfds = await tensorsToTfDataset(ds.getData({ format: 'tensors' }), { tf });
    const rows = (await tfds.toArray()) as Array<{ xs: tf.Tensor; ys: tf.Tensor }>;
    expect(rows.length).toBe(8);
    const i = ds.permutation[3]!;
    expect(rows[3]!.xs.shape).toEqual([2]);
    expect([...(await rows[3]!.xs.data())]).toEqual([i, -i]);
    expect((await rows[3]!.ys.data())[0]).toBe(i % 5);
    tf.dispose(rows.flatMap((r) => [r.xs, r.ys]));
  });

  it('visualize draws the chosen domain with a legend (SVG and PNG)', async () => {
    const ds = await StreamsDataset.open(grid(100), { batchSize: 2, timestep: 40, duration: 10 });
    const { svg, png } = await ds.visualize('label', undefined, { png: true });
    for (const v of ['0', '1', '2', '3', '4']) expect(svg).toContain(`>${v}<`);
    expect(svg).toContain('>step<');
    expect(png!.subarray(1, 4).toString()).toBe('PNG');
  });
});
