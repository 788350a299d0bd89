// The learning-quality script (scripts/quality.ts) on its smallest protocol: with `--jobs 2` each
// (strategy, seed) runs in a child process of its own, and every figure but the wall time must be
// the one a sequential run gives; the table keeps the published relation (replay above naive).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const script = join(packageDir, 'scripts', 'quality.ts');
const work = mkdtempSync(join(tmpdir(), 'streams-quality-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function quality(...extra: string[]): Promise<string> {
  const { stdout } = await run(
    process.execPath,
    [
      '--conditions=@streams/source',
      '--import',
      'tsx',
      script,
      '--protocol',
      'split-mnist',
      '--small',
      '--seeds',
      '0,1',
      '--only',
      'naive,replay',
      ...extra,
    ],
    { cwd: packageDir, maxBuffer: 1 << 22 },
  );
  return stdout;
}

/** The table's rows, each cell but the wall time (column 5), which differs from run to run. */
function figures(out: string): string[][] {
  return out
    .split('\n')
    .filter((l) => /^\| (naive|replay)/.test(l))
    .map((l) =>
      l
        .split('|')
        .slice(1, -1)
        .map((c) => c.trim())
        .filter((_, i) => i !== 4),
    );
}

describe('scripts/quality.ts', () => {
  it('gives the same figures with --jobs 2 (a child process per unit) as in one process', async () => {
    const out = join(work, 'table.md');
    const [one, two] = await Promise.all([quality(), quality('--jobs', '2', '--out', out)]);
    const seq = figures(one);
    expect(seq.map((r) => r[0])).toEqual(['naive', 'replay (1000)']);
    expect(figures(two)).toEqual(seq);
    expect(two).toContain('2 jobs in parallel');
    // --out holds the whole table once every strategy has finished.
    expect(figures(readFileSync(out, 'utf8'))).toEqual(seq);
    // Class-incremental: naive forgets, replay keeps much of it.
    const acc = (row: string[]) => Number(row[1]!.split(' ')[0]);
    expect(acc(seq[1]!)).toBeGreaterThan(acc(seq[0]!) + 20);
  }, 300_000);
});
