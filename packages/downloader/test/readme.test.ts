// Every README example runs as written from the repository root, or is listed below with why not.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  classifyBlocks,
  REPO_ROOT,
  runTsExample,
  startFaultProxy,
  startS3Server,
} from '@streams/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { s3Driver } from '../src/drivers/s3.js';

const README = 'packages/downloader/README.md';
// The listEach fragment runs with the first example's engine; the registerDriver one is listed.
const [example, listEach] = classifyBlocks(
  README,
  ['createFetchEngine', "listEach('s3://bucket/shards/')"],
  {
    "registerDriver('mem', myDriver)":
      'a fragment: `myDriver` and the minio endpoint are placeholders (src/registry.test.ts registers drivers)',
  },
);
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

  it('the listEach fragment sums the sizes under an s3 prefix (s3rver, signatures verified)', async () => {
    await using s3 = await startS3Server({ buckets: ['bucket'] });
    await using proxy = await startFaultProxy({
      target: s3.endpoint,
      verifySigV4: { S3RVER: 'S3RVER' },
    });
    const driver = s3Driver({ endpoint: proxy.url, credentials: s3.credentials });
    const sizes = { 'shards/a': 3, 'shards/b': 5, 'other/c': 7 };
    for (const [key, n] of Object.entries(sizes)) {
      await driver.put(`s3://bucket/${key}`, new Uint8Array(n));
    }
    // Its context is the first example's engine: that example's import and `const engine` lines.
    const context = example!.code
      .split('\n')
      .filter((l) => l.startsWith('import ') || l.startsWith('const engine ='));
    expect(context).toHaveLength(2);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      AWS_ENDPOINT_URL_S3: proxy.url,
      AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
      AWS_REGION: s3.region,
    };
    for (const k of ['AWS_PROFILE', 'AWS_SESSION_TOKEN', 'AWS_ENDPOINT_URL']) delete env[k];
    const r = await runTsExample(listEach!, join(REPO_ROOT, 'packages/downloader'), {
      prepend: context.join('\n'),
      append: 'console.log(bytes);',
      env,
    });
    // (stderr holds the AWS SDK's notice about Node 20.)
    expect(r.stderr).not.toMatch(/STREAMS_|Error/);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('8\n'); // shards/a and shards/b, not other/c
    expect(proxy.log.filter((x) => x.method === 'GET').length).toBeGreaterThan(0);
    expect(proxy.log.filter((x) => x.signature !== 'valid')).toEqual([]);
  });
});
