import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startS3Server, type TestS3Server } from '@streams/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDataset } from '../src/dataset.js';
import { openMdsDataset } from '../src/mdsDataset.js';
import { MdsWriter } from '../src/mdsWriter.js';
import { toJsonValue } from '../src/sampleJson.js';
import { MDS_REFERENCE } from './fixtures.js';

interface Downloader {
  registerDriver(scheme: string, factory: () => unknown): void;
  unregisterDriver(scheme: string): void;
  s3Driver(o: Record<string, unknown>): unknown;
  disposeDrivers(): Promise<void>;
}
// Computed specifier: keeps the downloader's sources out of this package's type check.
const DOWNLOADER = '@streams/downloader';
let dl: Downloader;
let s3: TestS3Server;

beforeAll(async () => {
  s3 = await startS3Server({ buckets: ['data'] });
  dl = (await import(DOWNLOADER)) as Downloader;
  dl.registerDriver('s3', () =>
    dl.s3Driver({
      endpoint: s3.endpoint,
      forcePathStyle: true,
      credentials: s3.credentials,
      region: s3.region,
    }),
  );
}, 60_000);

afterAll(async () => {
  dl.unregisterDriver('s3');
  await dl.disposeDrivers();
  await s3.close();
});

describe('MDS on S3 (s3rver)', () => {
  it('MdsWriter uploads shards then index.json; the dataset reads back from s3:// identically', async () => {
    const expected = JSON.parse(await readFile(join(MDS_REFERENCE, 'expected.json'), 'utf8')).plain;
    const w = new MdsWriter({
      out: 's3://data/ref',
      columns: expected.columns,
      sizeLimit: 16384,
      hashes: ['md5', 'sha1'],
    });
    for (const s of expected.samples as Record<string, unknown>[]) {
      const v = { ...s, blob: Buffer.from((s.blob as { hex: string }).hex, 'hex') };
      await w.write(v);
    }
    await w.finish();
    await using ds = await openMdsDataset('s3://data/ref', { validateHashes: 'sha1' });
    expect(ds.numSamples).toBe(1000);
    // Same bytes as MosaicML's writer, now read from S3.
    const theirs = new Uint8Array(await readFile(join(MDS_REFERENCE, 'plain', 'shard.00003.mds')));
    expect(Buffer.from(await ds.readShard(3)).equals(Buffer.from(theirs))).toBe(true);
    expect(toJsonValue(await ds.get(777))).toEqual(expected.samples[777]);
    await using any = await openDataset('s3://data/ref');
    let n = 0;
    for await (const _ of any.samples()) n++;
    expect(n).toBe(1000);
    // A second writer refuses the non-empty prefix.
    const again = new MdsWriter({ out: 's3://data/ref', columns: { a: 'int' } });
    await expect(again.write({ a: 1 })).rejects.toThrow(/not empty/);
  }, 120_000);
});
