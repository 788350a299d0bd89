// Runs the README's first example verbatim (except the imports), so the README stays true.
import { readFile } from 'node:fs/promises';
import { classifyBlocks } from '@streams/testkit';
import { describe, expect, it } from 'vitest';

describe('README', () => {
  it('the first example runs and prints what the comments say', async () => {
    const text = await readFile(new URL('../README.md', import.meta.url), 'utf8');
    const code = /```ts\n([\s\S]*?)```/.exec(text)?.[1];
    expect(code).toBeDefined();
    const body = code!.replace(/^import .*$/gm, '').replace(/await using pool/, 'const pool');
    const logs: unknown[][] = [];
    const log = (...args: unknown[]) => logs.push(args);
    const { rng } = await import('@streams/core');
    const t = await import('../src/index.js');
    const sharp = (await import('sharp')).default;
    const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (
      ...args: string[]
    ) => (...a: unknown[]) => Promise<unknown>;
    const fn = new AsyncFunction(
      'rng',
      'DecodeGuard',
      'imageClassification',
      'TransformPool',
      'sharp',
      'console',
      `${body}\nawait pool.close();`,
    );
    await fn(rng, t.DecodeGuard, t.imageClassification, t.TransformPool, sharp, { log });
    expect(logs[0]).toEqual([[3, 224, 224], 'Float32Array', 3]);
    expect(logs[1]).toEqual([true]);
    expect(logs[2]).toEqual([undefined, { ok: 0, failed: 1, skipped: 1, replaced: 0 }]);
  });
});

it('every other code block is listed with why it is not run', () => {
  const run = classifyBlocks('packages/transforms/README.md', ['imageClassification('], {
    'videoClip({':
      'a fragment: `bytes`, `seed`, `epoch`, `sampleId` and `signal` come from your loader (src/presets.test.ts runs videoClip)',
  });
  expect(run).toHaveLength(1);
});
