// The README's one code example, run as written from the repository root (the layout block is text).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classifyBlocks, REPO_ROOT, runTsExample } from '@streams/testkit';
import { afterAll, describe, expect, it } from 'vitest';

const [example] = classifyBlocks('packages/cache/README.md', ['openCache'], {});
const dir = mkdtempSync(join(tmpdir(), 'streams-cache-readme-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('README', { timeout: 60_000 }, () => {
  it('has a first example that really runs', async () => {
    const r = await runTsExample(example!, join(REPO_ROOT, 'packages/cache'), {
      replace: { '/tmp/streams-cache-demo': dir },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('false 21 hello from the cache');
    expect(r.stdout).toMatch(/misses: 1/);
  });
});
