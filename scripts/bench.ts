// Runs every package's `bench` script one at a time (benchmarks must not compete for the cores),
// then gathers their bench-results.json into the root bench-results.json and prints one table.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchEntry, benchTable } from '@streams/testkit';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dirs = ['packages', 'apps'].flatMap((g) =>
  readdirSync(join(root, g)).map((n) => join(root, g, n)),
);
for (const d of dirs) rmSync(join(d, 'bench-results.json'), { force: true });

const run = spawnSync(
  'pnpm',
  ['turbo', 'run', 'bench', '--concurrency=1', ...process.argv.slice(2)],
  {
    cwd: root,
    stdio: 'inherit',
  },
);

const entries: BenchEntry[] = [];
for (const d of dirs) {
  const file = join(d, 'bench-results.json');
  if (existsSync(file)) entries.push(...JSON.parse(readFileSync(file, 'utf8')));
}
writeFileSync(join(root, 'bench-results.json'), `${JSON.stringify(entries, null, 2)}\n`);

console.log(`\n${benchTable(entries)}`);
console.log(`\n[streams] ${entries.length} benchmark figures written to bench-results.json`);
process.exit(run.status ?? 1);
