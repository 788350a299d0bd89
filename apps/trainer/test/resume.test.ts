import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TrainerState } from '../src/checkpoint.js';
import { readMetrics } from '../src/metricsLog.js';
import { cli, cliArgs, NO_REPORT, TRAIN_DATA_DIR, tempDir } from './helpers.js';

// Three tasks, two epochs, batches of 16, a checkpoint every 5 steps: ~180 steps per learner.
const JOB = [
  '--data-dir',
  TRAIN_DATA_DIR,
  '--quiet',
  ...NO_REPORT,
  '--set',
  'experiences.tasks=[[0,1],[2,3],[4,5]]',
  '--set',
  'data.epochSize=480',
  '--batch-size',
  '16',
  '--epochs',
  '2',
  '--checkpoint-every',
  '5',
  '--set',
  'train.logEvery=7',
];

/** Waits until a checkpoint matching `accept` exists in the run; returns its state. */
async function waitForCheckpoint(
  dir: string,
  child: ChildProcess,
  accept: (s: TrainerState) => boolean,
): Promise<TrainerState> {
  const ckpts = join(dir, 'checkpoints');
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`the run ended (exit ${child.exitCode}) before a matching checkpoint`);
    for (const name of existsSync(ckpts)
      ? (await readdir(ckpts)).filter((n) => n.startsWith('ckpt-'))
      : []) {
      const s = JSON.parse(
        await readFile(join(ckpts, name, 'trainer.json'), 'utf8').catch(() => '{}'),
      ) as TrainerState;
      if (s.version === 2 && accept(s)) return s;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

function exited(
  child: ChildProcess,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** The deterministic content of a run: evaluations and per-window training figures (no timings). */
async function results(dir: string) {
  const lines = await readMetrics(join(dir, 'metrics.jsonl'));
  return {
    evals: lines.filter((l) => l.type === 'eval'),
    steps: lines.flatMap((l) =>
      l.type === 'step'
        ? [
            {
              learner: l.learner,
              experience: l.experience,
              epoch: l.epoch,
              step: l.step,
              samples: l.samples,
              loss: l.loss,
              accuracy: l.accuracy,
              shares: l.shares,
            },
          ]
        : [],
    ),
    learners: lines.flatMap((l) =>
      l.type === 'learner' ? [{ name: l.learner, hash: l.weightsHash, samples: l.samples }] : [],
    ),
  };
}

describe('checkpoints and --resume', () => {
  it(
    'a run killed with SIGKILL mid-experience, resumed, stopped by SIGTERM and resumed again ends exactly as an uninterrupted run',
    { timeout: 300_000 },
    async () => {
      await using tmp = await tempDir();
      const reference = join(tmp.dir, 'reference');
      const ref = await cli(['train', ...JOB, '--out', reference]);
      expect(ref.err).toBe('');
      expect(ref.code).toBe(0);
      const want = await results(reference);
      expect(want.learners).toHaveLength(2);

      const run = join(tmp.dir, 'interrupted');
      const cwd = join(import.meta.dirname, '..');
      // 1. SIGKILL after the first checkpoint in the middle of an experience of the second learner.
      const first = spawn(process.execPath, cliArgs(['train', ...JOB, '--out', run]), {
        cwd,
        stdio: 'ignore',
      });
      const gone = exited(first);
      const killedAt = await waitForCheckpoint(
        run,
        first,
        (s) => s.learner === 1 && s.experience === 1 && s.started && s.reason === 'steps',
      );
      first.kill('SIGKILL');
      expect((await gone).signal).toBe('SIGKILL');
      expect(killedAt.stepInExperience).toBeGreaterThan(0);

      // 2. Resume in a child; SIGTERM it once it has checkpointed further: it stops at the next step with a checkpoint.
      const second = spawn(process.execPath, cliArgs(['train', '--resume', run]), {
        cwd,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      second.stderr!.on('data', (d) => {
        stderr += String(d);
      });
      const stopped = exited(second);
      await waitForCheckpoint(run, second, (s) => s.seq > killedAt.seq + 2);
      second.kill('SIGTERM');
      const end = await stopped;
      expect(end.code, stderr).toBe(130);
      expect(stderr).toMatch(/SIGTERM: stopping at the next step with a checkpoint/);
      expect(stderr).toMatch(
        /interrupted: checkpoint written to .*ckpt-\d+; continue with --resume/,
      );
      const ckpts = (await readdir(join(run, 'checkpoints'))).sort();
      const last = JSON.parse(
        await readFile(join(run, 'checkpoints', ckpts[ckpts.length - 1]!, 'trainer.json'), 'utf8'),
      ) as TrainerState;
      expect(last.reason).toBe('interrupted');

      // 3. Resume to the end (in this process): same weights, same evaluations, same training curve.
      const third = await cli(['train', '--resume', run, '--quiet']);
      expect(third.err).toBe('');
      expect(third.code).toBe(0);
      const got = await results(run);
      expect(got.learners).toEqual(want.learners);
      expect(got.evals).toEqual(want.evals);
      expect(got.steps).toEqual(want.steps);
    },
  );

  it(
    'refuses a --resume under a changed config, and a path without checkpoints',
    { timeout: 120_000 },
    async () => {
      await using tmp = await tempDir();
      const run = join(tmp.dir, 'small');
      const small = await cli([
        'train',
        ...JOB,
        '--out',
        run,
        '--set',
        'experiences.tasks=[[0,1]]',
        '--epochs',
        '1',
      ]);
      expect(small.code).toBe(0);
      const changed = await cli(['train', '--resume', run, '--quiet', '--seed', '5']);
      expect(changed.code).toBe(1);
      expect(changed.err).toMatch(/STREAMS_STATE_INVALID.*was written under another config/);
      const missing = await cli(['train', '--resume', tmp.dir, '--quiet']);
      expect(missing.code).toBe(1);
      expect(missing.err).toMatch(/STREAMS_STATE_INVALID.*no checkpoint in/);
    },
  );
});
