// Runs the README's STREAMS and coherent-batch examples verbatim (except the imports), and checks
// that they print what the README says.
import * as childProcess from 'node:child_process';
import * as fs from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classifyBlocks, REPO_ROOT, runTsExample } from '@streams/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import * as multistream from '../src/index.js';

const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (
  ...args: string[]
) => (...a: unknown[]) => Promise<unknown>;

/** The ```ts block whose first line is `// example: <name>`, without its imports. */
async function example(name: string): Promise<string> {
  const text = await readFile(new URL('../README.md', import.meta.url), 'utf8');
  const block = [...text.matchAll(/```ts\n([\s\S]*?)```/g)]
    .map((m) => m[1]!)
    .find((b) => b.startsWith(`// example: ${name}\n`));
  expect(block, `README example ${name}`).toBeDefined();
  // Imports become parameters; `await using` is not valid in a function body built at run time.
  return block!.replace(/^import [\s\S]*?;$/gm, '').replace(/await using (\w+)/g, 'const $1');
}

/** Runs an example with the names it imports in scope; returns what it logged. */
async function run(name: string, after = ''): Promise<unknown[][]> {
  const logs: unknown[][] = [];
  const scope = {
    ...multistream,
    mkdirSync: fs.mkdirSync,
    writeFileSync: fs.writeFileSync,
    execFileSync: childProcess.execFileSync,
    console: { log: (...a: unknown[]) => logs.push(a) },
  };
  const fn = new AsyncFunction(...Object.keys(scope), `${await example(name)}\n${after}`);
  await fn(...Object.values(scope));
  return logs;
}

// Every code block is run (the first as written, in a child process from the repository root; the
// `// example:` ones below) or listed here with why not.
const [quickstart] = classifyBlocks(
  'packages/multistream/README.md',
  [
    "local: '/tmp/demo-mds'",
    '// example: streams-dataset',
    '// example: coherent-texts',
    '// example: coherent-video',
  ],
  {
    "remote: 's3://bucket/web'":
      'a fragment: the bucket and /data/code are placeholders (test/s3.test.ts mixes s3 and local streams)',
    "local: '/data/imagenet-mds'":
      'a fragment: /data/imagenet-mds is a placeholder (test/transforms.test.ts runs imageClassification)',
    'samplesSeen: 1_204_224': 'a value (a state dict), not code',
    "memoryLimit: '1gib'":
      'a fragment: data/big is a placeholder (test/memoryBound.test.ts reads under memoryLimit in a child process)',
    'linearSchedule([':
      'a fragment: `step` and `orders` come from your training loop (src/schedule.test.ts)',
    "registerDataset('my-digits'":
      'a fragment: example.org and `parseMyDigits` are placeholders (test/datasetDownloads.test.ts)',
    'toTfDataset(ds':
      'a fragment: `ds` and `model` are your dataset and tf.js model (src/tfdata.test.ts)',
  },
);
const work = fs.mkdtempSync(join(tmpdir(), 'streams-multistream-readme-'));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe('README quickstart', { timeout: 60_000 }, () => {
  it('writes MDS, stops after 10 batches and resumes with nothing replayed or skipped', async () => {
    const r = await runTsExample(quickstart!, join(REPO_ROOT, 'packages/multistream'), {
      replace: { '/tmp/demo-mds': join(work, 'demo-mds') },
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('320 680\n');
  });
});

describe('README examples', () => {
  it('streams-dataset: open fashion-mnist, step, getData, getStream, batches, visualize', async () => {
    const logs = await run('streams-dataset');
    expect(logs).toEqual([[1920, 1920, 1920, 12, 11, 160, true]]);
  });

  it('coherent-texts: prints exactly the batches shown under it', async () => {
    const logs = await run('coherent-texts', 'await loader.close();');
    const text = await readFile(new URL('../README.md', import.meta.url), 'utf8');
    const printed = /prints \(one block per batch\):\n\n```\n([\s\S]*?)```/.exec(text)?.[1];
    expect(printed).toBeDefined();
    expect(logs.map((l) => l[0]).join('\n\n')).toBe(printed!.trimEnd());
  });

  it(
    'coherent-video: clips made with ffmpeg stream as [K, T, H, W, C] batches',
    { timeout: 180_000 },
    async () => {
      const logs = await run('coherent-video', 'await video.close();');
      expect(logs).toEqual([[[2, 8, 48, 64, 3], [12, 20, 7], 39]]);
    },
  );
});
