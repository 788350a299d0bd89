// Every README example runs as written from the repository root, or is listed below with why not.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classifyBlocks, REPO_ROOT, runTsExample } from '@streams/testkit';
import { afterAll, describe, expect, it } from 'vitest';

const README = 'packages/downloader/README.md';
const [example] = classifyBlocks(README, ['createFetchEngine'], {
  "listEach('s3://bucket/shards/')":
    'a fragment: `engine` comes from the example above, the bucket is a placeholder',
  "registerDriver('mem', myDriver)":
    'a fragment: `myDriver` and the minio endpoint are placeholders',
});
const work = mkdtempSync(join(tmpdir(), 'streams-downloader-readme-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('README', { timeout: 60_000 }, () => {
  it('the example lists, reads and downloads Fashion-MNIST from file: URLs', async () => {
    const r = await runTsExample(example!, join(REPO_ROOT, 'packages/downloader'), {
      replace: { '/tmp/streams-example': work },
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const [, files, last] = /^(\[[\s\S]*?\])\n(.*)$/m.exec(r.stdout.trim()) ?? [];
    expect(files).toMatch(/t10k-images-idx3-ubyte\.gz \d+/);
    expect(files).toMatch(/t10k-labels-idx1-ubyte\.gz \d+/);
    const out = join(work, 't10k-labels-idx1-ubyte');
    // gzip magic, the decompressed path, its size (8-byte header + 10,000 labels), one attempt.
    expect(last).toBe(`<Buffer 1f 8b> ${out} 10008 1`);
    expect(readFileSync(out).length).toBe(10_008);
  });
});
