// CLI start-up (issue 15): wall time of the built CLI for `--version` and for `cat` of a 10-sample
// local MDS dataset, against the same calls through tsx from the sources (what `pnpm streams` ran
// before it used the build) and against the absolute targets (0.3 s and 0.6 s). Medians of
// paired, alternating rounds. Builds the trainer first (a turbo cache hit when it is current).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MdsWriter } from '@streams/index';
import { type BenchEntry, benchEntry, benchTable } from '@streams/testkit';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const app = join(import.meta.dirname, '..');
const root = join(app, '../..');
execFileSync(
  'pnpm',
  ['turbo', 'run', 'build', '--filter=@streams/trainer...', '--output-logs=errors-only'],
  {
    cwd: root,
    stdio: 'inherit',
  },
);

const work = mkdtempSync(join(tmpdir(), 'streams-startup-bench-'));
try {
  const data = join(work, 'ten');
  const w = new MdsWriter({ out: data, columns: { id: 'int', text: 'str' } });
  for (let i = 0; i < 10; i++) await w.write({ id: i, text: `sample ${i}` });
  await w.finish();
  const built = [join(app, 'dist/cli.js')];
  const source = ['--import', 'tsx', '--conditions=@streams/source', join(app, 'src/cli.ts')];
  const calls = { version: ['--version'], cat: ['cat', data] };
  const wall = (argv: string[]) => {
    const t0 = performance.now();
    execFileSync(process.execPath, argv, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
    return (performance.now() - t0) / 1000;
  };
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1]!;
  const entries: BenchEntry[] = [];
  for (const [what, args] of Object.entries(calls)) {
    const b: number[] = [];
    const s: number[] = [];
    const bare: number[] = []; // node itself: the floor of any CLI, which the machine's load moves
    wall([...built, ...args]); // warm the page cache for both
    wall([...source, ...args]);
    for (let r = 0; r < ROUNDS; r++) {
      b.push(wall([...built, ...args]));
      s.push(wall([...source, ...args]));
      bare.push(wall(['-e', '0']));
    }
    const label = what === 'version' ? 'streams --version' : 'streams cat (10-sample local MDS)';
    entries.push(
      benchEntry({
        name: `CLI start-up: ${label}, built CLI vs tsx from sources`,
        unit: 's',
        value: median(b),
        reference: 'tsx from sources',
        referenceValue: median(s),
        lowerIsBetter: true,
      }),
      benchEntry({
        name: `CLI start-up: ${label}, built CLI vs a bare node start`,
        unit: 's',
        value: median(b),
        reference: 'node -e 0',
        referenceValue: median(bare),
        lowerIsBetter: true,
      }),
      benchEntry({
        name: `CLI start-up: ${label}, built CLI vs the target`,
        unit: 's',
        value: median(b),
        reference: 'target',
        referenceValue: what === 'version' ? 0.3 : 0.6,
        lowerIsBetter: true,
        target: 1,
      }),
    );
  }
  // The package's bench-results.json holds the data-path figures too: keep those, replace ours.
  const file = join(app, 'bench-results.json');
  const others = existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as BenchEntry[]).filter(
        (e) => !e.name.startsWith('CLI start-up: '),
      )
    : [];
  writeFileSync(file, `${JSON.stringify([...others, ...entries], null, 2)}\n`);
  console.log(benchTable(entries));
} finally {
  rmSync(work, { recursive: true, force: true });
}
