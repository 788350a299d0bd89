import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openCache } from '@streams/cache';
import { registerDriver, s3Driver } from '@streams/downloader';
import { startS3Server } from '@streams/testkit';
import { describe, expect, it } from 'vitest';
import { StreamingDataset } from '../src/index.js';
import { payloadOf, tempDir, writeMds } from './fixtures.js';

type Sample = { uid: number; payload: Uint8Array };

describe('end to end: a local stream and an s3rver stream', () => {
  it(
    'mixes them by weight under a cache budget smaller than the data, through an epoch and a resume',
    { timeout: 120_000 },
    async () => {
      const tmp = await tempDir();
      try {
        await using s3 = await startS3Server({ buckets: ['data'] });
        const driver = s3Driver({
          endpoint: s3.endpoint,
          credentials: s3.credentials,
          region: s3.region,
          forcePathStyle: true,
        });
        registerDriver('s3', driver);
        const local = join(tmp.dir, 'local');
        const remoteSrc = join(tmp.dir, 'remote-src');
        await writeMds(local, { n: 300, tag: 1, bytes: 32 });
        // 200 samples of ~2 KiB in shards of ~10 samples: ~400 KiB remote, 20 shards.
        await writeMds(remoteSrc, {
          n: 200,
          tag: 2,
          bytes: 2000,
          sizeLimit: 20_000,
          compression: 'zstd',
        });
        for (const f of await readdir(remoteSrc))
          await driver.put(`s3://data/mix/${f}`, await readFile(join(remoteSrc, f)));
        const cacheDir = join(tmp.dir, 'cache');
        const budget = 120_000; // a fraction of the remote stream
        const open = () =>
          StreamingDataset.open<Sample>({
            streams: [
              { local, name: 'local', proportion: 1 },
              {
                remote: 's3://data/mix',
                name: 's3',
                proportion: 2,
                downloadRetry: 3,
                downloadTimeout: '30s',
              },
            ],
            epochSize: 450, // local: 150 of 300 (subsampled), s3: 300 of 200 (1.5x)
            cacheDir,
            cacheLimit: budget,
            predownload: 32,
            batchSize: 5,
            seed: 3,
            world: { rank: 0, worldSize: 1 },
          });
        const read: number[] = [];
        let state: ReturnType<StreamingDataset['stateDict']>;
        {
          await using ds = await open();
          expect(ds.weights.choose).toEqual([150, 300]);
          for await (const batch of ds.batches()) {
            for (const s of batch) {
              expect([...s.payload]).toEqual([...payloadOf(s.uid, s.uid >= 2e6 ? 2000 : 32)]);
              read.push(s.uid);
            }
            if (read.length >= 200) break;
          }
          state = ds.stateDict();
          expect(state.samplesSeen).toBe(200);
          const m = ds.metrics();
          expect(m.cacheMisses).toBeGreaterThan(0);
          // The budget holds a fraction of the remote shards: the cache had to evict to go on.
          expect(m.cacheEvictions).toBeGreaterThan(0);
          expect(m.cacheBytesInUse).toBeLessThanOrEqual(budget);
        }
        {
          await using ds = await open();
          ds.loadStateDict(state);
          for await (const s of ds) {
            expect([...s.payload]).toEqual([...payloadOf(s.uid, s.uid >= 2e6 ? 2000 : 32)]);
            read.push(s.uid);
          }
          // The resumed run read exactly the rest of the same plan: the whole epoch, once.
          ds.setEpoch(0);
          const expected = [...ds.plan().ids].map((id) => (id < 300 ? 1e6 + id : 2e6 + id - 300));
          expect(read.sort((x, y) => x - y)).toEqual(expected.sort((x, y) => x - y));
          const m = ds.metrics();
          expect(m.shares.map((s) => s.target)).toEqual([1 / 3, 2 / 3]);
        }
        expect(read.filter((u) => u >= 2e6).length).toBe(300);
        // The cache stayed within its budget.
        await using cache = await openCache({ dir: cacheDir, limit: budget });
        const stats = await cache.refresh();
        expect(stats.bytesInUse).toBeLessThanOrEqual(budget);
        expect(stats.pinnedBytes).toBe(0);
      } finally {
        await tmp.cleanup();
      }
    },
  );
});
