// Every README example runs as written from the repository root, or is listed below with why not.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classifyBlocks, REPO_ROOT, runTsExample } from '@streams/testkit';
import { afterAll, describe, expect, it } from 'vitest';

const README = 'packages/index/README.md';
const packageDir = join(REPO_ROOT, 'packages/index');
const [mds, anyDataset, formats] = classifyBlocks(
  README,
  ['new MdsWriter', 'openDataset(', 'listFormats()'],
  {
    "openIndexTable('/data/meta/*.parquet'":
      'a fragment: /data/meta is a placeholder for your Parquet files (index tables run in test/formats.test.ts)',
  },
);
const work = mkdtempSync(join(tmpdir(), 'streams-index-readme-'));
const replace = { replace: { '/tmp/mnist-mds': join(work, 'mnist-mds') } };
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('README', { timeout: 60_000 }, () => {
  it('the MDS example writes a dataset and reads its one sample back', async () => {
    const r = await runTsExample(mds!, packageDir, replace);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const sample = JSON.parse(lines[0]!);
    expect(sample.label).toBe(3);
    expect(sample.meta).toEqual({ src: 'a' });
    expect(sample.image).toMatchObject({ dtype: 'uint8', shape: [28, 28] });
  });

  it('the openDataset example reads the dataset the MDS example wrote', async () => {
    const r = await runTsExample(anyDataset!, packageDir, replace);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("[ 'image', 'label', 'meta' ]\n1\n"); // MDS stores columns sorted by name
  });

  it('the formats example prints the formats its comment lists', async () => {
    const r = await runTsExample(formats!, packageDir);
    expect(r.code).toBe(0);
    const comment = /\/\/ (\[.*\])/.exec(formats!.code)![1]!;
    expect(r.stdout.trim()).toBe(comment);
  });
});
