// The README's first example, run as written from the repository root; the Backends examples run in
// backendReadme.test.ts, and every other code block is listed with why it is not run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classifyBlocks, REPO_ROOT, runTsExample } from '@streams/testkit';
import { afterAll, describe, expect, it } from 'vitest';

const [first] = classifyBlocks(
  'packages/cl/README.md',
  ['new ContinualLearner', "import { selectBackend } from '@streams/cl'", 'pnpm streams setup-tf'],
  { 'interface Batch {': 'a type declaration, not code to run' },
);
const dir = mkdtempSync(join(tmpdir(), 'streams-cl-readme-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('README', { timeout: 120_000 }, () => {
  it('has a first example that really runs, as a user would run it', async () => {
    const r = await runTsExample(first!, join(REPO_ROOT, 'packages/cl'), {
      replace: { '/tmp/streams-cl-demo': dir },
    });
    expect(r.code, r.stderr).toBe(0);
    const acc = Number(/average accuracy (\S+)/.exec(r.stdout)?.[1]);
    expect(acc).toBeGreaterThan(0.6);
    expect(r.stdout).toContain('finished experiences 0,1 memory 200');
  });
});
