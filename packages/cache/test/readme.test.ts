import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { classifyBlocks } from '@streams/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnFixture } from './spawnTs.js';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
let dir: string | undefined;
const script = join(packageDir, 'test', 'fixtures', 'readmeExample.gen.ts');
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  rmSync(script, { force: true });
});

describe('README', { timeout: 60_000 }, () => {
  it('has a first example that really runs', async () => {
    const readme = readFileSync(join(packageDir, 'README.md'), 'utf8');
    const example = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(example).toContain('openCache');
    dir = mkdtempSync(join(tmpdir(), 'streams-cache-readme-'));
    writeFileSync(script, example!.replaceAll('/tmp/streams-cache-demo', dir));
    const child = spawnFixture('readmeExample.gen.ts', []);
    const out = await child.output;
    expect(out).toContain('false 21 hello from the cache');
    expect(out).toMatch(/misses: 1/);
  });
});

it('every code block is run (the layout block is plain text)', () => {
  expect(classifyBlocks('packages/cache/README.md', ['openCache'], {})).toHaveLength(1);
});
