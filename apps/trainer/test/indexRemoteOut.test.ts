import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { disposeDrivers } from '@streams/downloader';
import {
  startFaultProxy,
  startGcsEmulator,
  startHttpServer,
  startS3Server,
} from '@streams/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { runCat } from '../src/catCommand.js';
import { runIndex } from '../src/indexCommand.js';
import { jsonLines, sink, tempDir } from './helpers.js';

afterAll(() => disposeDrivers());

async function meta(dir: string): Promise<string> {
  const file = join(dir, 'meta.csv');
  const rows = Array.from({ length: 10 }, (_, i) => `https://cdn.example/img/${i}.jpg,${i % 3}`);
  await writeFile(file, `url,label\n${rows.join('\n')}\n`);
  return file;
}

async function cat(url: string, flags: Record<string, unknown> = {}): Promise<unknown[]> {
  const out = sink();
  expect(await runCat([url], flags, { out: out.stream, err: sink().stream })).toBe(0);
  return jsonLines(out.text());
}

describe('streams index build --out to remote storage', () => {
  it('uploads the train and validation indexes to s3:// (s3rver behind the SigV4-verifying proxy)', async () => {
    await using tmp = await tempDir();
    await using s3 = await startS3Server({ buckets: ['indexes'] });
    const { accessKeyId, secretAccessKey } = s3.credentials;
    await using proxy = await startFaultProxy({
      target: s3.endpoint,
      verifySigV4: { [accessKeyId]: secretAccessKey },
    });
    const env = { ...process.env };
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: accessKeyId,
      AWS_SECRET_ACCESS_KEY: secretAccessKey,
      AWS_REGION: s3.region,
    });
    try {
      const file = await meta(tmp.dir);
      const out = sink();
      const code = await runIndex(
        ['build'],
        {
          sql: `SELECT * FROM read_csv('${file}')`,
          out: 's3://indexes/train/index.parquet',
          'val-ratio': 0.2,
          endpoint: proxy.url,
          quiet: true,
        },
        { out: out.stream, err: sink().stream },
      );
      expect(code).toBe(0);
      expect(JSON.parse(out.text())).toMatchObject({
        rows: 10,
        trainRows: 8,
        valRows: 2,
        out: 's3://indexes/train/index.parquet',
        valOut: 's3://indexes/train/index.val.parquet',
      });
      const flags = { endpoint: proxy.url, 'cache-dir': join(tmp.dir, 'cache') };
      const train = (await cat('s3://indexes/train/index.parquet', flags)) as {
        url: string;
        label: number;
      }[];
      const val = (await cat('s3://indexes/train/index.val.parquet', flags)) as {
        url: string;
        label: number;
      }[];
      expect(train).toHaveLength(8);
      expect(val).toHaveLength(2);
      const urls = [...train, ...val].map((r) => r.url).sort();
      expect(urls).toEqual(
        Array.from({ length: 10 }, (_, i) => `https://cdn.example/img/${i}.jpg`).sort(),
      );
      // The uploads went through the proxy, and every request carried a valid signature.
      const puts = proxy.log.filter((r) => r.method === 'PUT').map((r) => r.path.split('?')[0]);
      expect(puts).toEqual(
        expect.arrayContaining([
          '/indexes/train/index.parquet',
          '/indexes/train/index.val.parquet',
        ]),
      );
      expect(proxy.log.every((r) => r.signature === 'valid')).toBe(true);
    } finally {
      process.env = env;
    }
  }, 60_000);

  it('uploads the train and validation indexes to gs:// (the testkit GCS emulator)', async () => {
    await using tmp = await tempDir();
    await using gcs = await startGcsEmulator({ buckets: ['indexes'] });
    const env = { ...process.env };
    // The GCS driver reads the emulator's address from the variable Google's client honours.
    Object.assign(process.env, { STORAGE_EMULATOR_HOST: gcs.url, GOOGLE_CLOUD_PROJECT: 'test' });
    await disposeDrivers(); // a driver made earlier in this process would keep Google's endpoint
    try {
      const file = await meta(tmp.dir);
      const code = await runIndex(
        ['build'],
        {
          sql: `SELECT * FROM read_csv('${file}')`,
          out: 'gs://indexes/train/index.parquet',
          'val-ratio': 0.2,
          quiet: true,
        },
        { out: sink().stream, err: sink().stream },
      );
      expect(code).toBe(0);
      const uploads = gcs.requests
        .filter((r) => r.method === 'POST' && r.path.startsWith('/upload/'))
        .map((r) => decodeURIComponent(new URL(r.path, gcs.url).searchParams.get('name') ?? ''));
      expect(uploads.sort()).toEqual(['train/index.parquet', 'train/index.val.parquet']);
      const flags = { 'cache-dir': join(tmp.dir, 'cache') };
      const train = (await cat('gs://indexes/train/index.parquet', flags)) as { url: string }[];
      const val = (await cat('gs://indexes/train/index.val.parquet', flags)) as { url: string }[];
      expect(train).toHaveLength(8);
      expect(val).toHaveLength(2);
      expect([...train, ...val].map((r) => r.url).sort()).toEqual(
        Array.from({ length: 10 }, (_, i) => `https://cdn.example/img/${i}.jpg`).sort(),
      );
    } finally {
      process.env = env;
      await disposeDrivers();
    }
  }, 60_000);

  it('uploads to http(s) with PUT', async () => {
    await using tmp = await tempDir();
    const root = join(tmp.dir, 'www');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(root);
    await using http = await startHttpServer({ root });
    const file = await meta(tmp.dir);
    const url = `${http.url}index.jsonl`;
    const code = await runIndex(
      ['build'],
      { sql: `SELECT * FROM read_csv('${file}')`, out: url, quiet: true },
      { out: sink().stream, err: sink().stream },
    );
    expect(code).toBe(0);
    expect(http.requests.some((r) => r.method === 'PUT' && r.path === '/index.jsonl')).toBe(true);
    const rows = (await cat(url, { 'cache-dir': join(tmp.dir, 'cache') })) as {
      url: string;
      label: number;
    }[];
    expect(rows.map((r) => r.label)).toEqual([0, 1, 2, 0, 1, 2, 0, 1, 2, 0]);
  }, 60_000);
});
