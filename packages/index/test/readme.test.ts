// Every README example runs as written from the repository root, or is listed below with why not.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classifyBlocks, commentedOutput, REPO_ROOT, runTsExample } from '@streams/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { buildIndex } from '../src/index.js';

const README = 'packages/index/README.md';
const packageDir = join(REPO_ROOT, 'packages/index');
const [mds, anyDataset, table, formats, wids] = classifyBlocks(
  README,
  [
    'new MdsWriter',
    "openDataset('/tmp/mnist-mds'",
    "openIndexTable('/data/meta/*.parquet'",
    'listFormats()',
    "'/tmp/wids-demo'",
  ],
  {},
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

  it('the index-table example filters two Parquet files and keeps a local copy', async () => {
    // /data/meta is the README's stand-in for your metadata: two Parquet files written here.
    const meta = join(work, 'meta');
    for (const [name, from] of [
      ['a', 0],
      ['b', 1000],
    ] as const) {
      await buildIndex({
        sql: `SELECT i AS id, 'img/' || i || '.jpg' AS url, i % 10 AS label, i / 100.0 AS aes_score FROM range(${from}, ${from + 1000}) t(i)`,
        out: join(meta, `${name}.parquet`),
      });
    }
    const cache = join(work, 'cache');
    const r = await runTsExample(table!, packageDir, {
      replace: { '/data/meta': meta },
      append: 'console.log(index.numRows, index.urlColumns, index.metadataColumns);',
      env: { ...process.env, STREAMS_CACHE_DIR: cache },
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // label == 3 and aes_score > 4: ids 403, 413, ..., 1993.
    expect(r.stdout).toBe("160 [ 'url' ] [ 'id', 'label', 'aes_score' ]\n");
    expect(readdirSync(join(cache, 'index')).length).toBeGreaterThan(0); // the local copy
  });

  it('the wids example writes tars with their shard index and reopens them from it', async () => {
    const r = await runTsExample(wids!, packageDir, {
      replace: { '/tmp/wids-demo': join(work, 'wids-demo') },
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // What the example's comments say it prints.
    expect(r.stdout).toBe('wids 5 3\ns4 4 sample 4\n');
    expect(readdirSync(join(work, 'wids-demo')).sort()).toEqual([
      'shard-000000.tar',
      'shard-000001.tar',
      'shard-000002.tar',
      'shardindex.json',
    ]);
  });

  it('the formats example prints the formats its comment lists', async () => {
    const r = await runTsExample(formats!, packageDir);
    expect(r.code).toBe(0);
    const want = commentedOutput(formats!);
    expect(want).toHaveLength(1);
    expect(r.stdout.trimEnd().split('\n')).toEqual(want);
  });
});
