// The README example runs as written from the repository root. (@streams/testkit's README helpers
// are not used here: the test kit depends on this package.)
import { execFile } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseBytes, rng } from '../src/index.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const root = join(packageDir, '..', '..');

describe('README', { timeout: 60_000 }, () => {
  it('the only code block runs and gives what its comments say', async () => {
    const readme = readFileSync(join(packageDir, 'README.md'), 'utf8');
    const blocks = [...readme.matchAll(/^```(ts|js|sh)\n([\s\S]*?)^```$/gm)].map((m) => m[2]!);
    expect(blocks).toHaveLength(1);
    const file = join(packageDir, `readme-${process.pid}.gen.mts`);
    // The example prints nothing: one line after it shows what it computed.
    writeFileSync(
      file,
      `${blocks[0]}\nconsole.log(JSON.stringify({ rank, worldSize, order: [...order], budget }));\n`,
    );
    try {
      const env = { ...process.env };
      for (const k of ['RANK', 'WORLD_SIZE', 'SLURM_PROCID', 'OMPI_COMM_WORLD_RANK']) delete env[k];
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ['--import', 'tsx', '--conditions=@streams/source', file],
        { cwd: root, env },
      );
      const got = JSON.parse(stdout);
      expect(got).toEqual({
        rank: 0,
        worldSize: 1,
        order: [...rng(42, 0, 'shuffle').permutation(10)],
        budget: 21_474_836_480,
      });
      expect(parseBytes('20gb')).toBe(got.budget);
      expect([...got.order].sort((a: number, b: number) => a - b)).toEqual([
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
      ]);
    } finally {
      rmSync(file, { force: true });
    }
  });
});
