import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { classifyBlocks } from '@streams/testkit';
import { afterEach, describe, expect, it } from 'vitest';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const script = join(packageDir, 'test', 'readmeExample.gen.ts');
let dir: string | undefined;

afterEach(() => {
  rmSync(script, { force: true });
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('README', { timeout: 120_000 }, () => {
  it('has a first example that really runs, as a user would run it', async () => {
    const readme = readFileSync(join(packageDir, 'README.md'), 'utf8');
    const example = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(example).toContain('new ContinualLearner');
    dir = mkdtempSync(join(tmpdir(), 'streams-cl-readme-'));
    writeFileSync(script, example!.replaceAll('/tmp/streams-cl-demo', dir));
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', '--conditions=@streams/source', script],
      { cwd: packageDir },
    );
    const acc = Number(/average accuracy (\S+)/.exec(stdout)?.[1]);
    expect(acc).toBeGreaterThan(0.6);
    expect(stdout).toContain('finished experiences 0,1 memory 200');
  });
});

it('every other code block is run by backendReadme.test.ts or listed with why not', () => {
  const run = classifyBlocks(
    'packages/cl/README.md',
    [
      'new ContinualLearner',
      "import { selectBackend } from '@streams/cl'",
      'pnpm streams setup-tf',
    ],
    { 'interface Batch {': 'a type declaration, not code to run' },
  );
  expect(run).toHaveLength(3);
});
