// The Snap design with video: 20 short MP4 clips made by ffmpeg here (clip i has 10 + i frames, so
// a decoded clip says which file it came from), a CSV index naming them, all in s3rver behind the
// test kit's SigV4-verifying proxy, streamed by StreamingDataset with the videoClip preset. Once
// with the clips fetched into a node cache smaller than them, once read by range requests straight
// from the bucket (the video column left as a URL, the preset given the dataset's engine).
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createFetchEngine, getDriver, s3Driver } from '@streams/downloader';
import { makeTestVideo, startFaultProxy, startS3Server } from '@streams/testkit';
import { videoClip } from '@streams/transforms';
import { expect, it } from 'vitest';
import { StreamingDataset } from '../src/index.js';
import { tempDir } from './fixtures.js';

const CLIPS = 20;
const T = 32; // more frames than the longest clip (29): decodedFrames names the clip
const SIZE = 32;

it(
  'a CSV index of 20 clips in s3rver: every clip read once, shapes right, cache under budget; and by ranges',
  { timeout: 180_000 },
  async () => {
    const tmp = await tempDir();
    await using s3 = await startS3Server({ buckets: ['snap'] });
    await using proxy = await startFaultProxy({
      target: s3.endpoint,
      verifySigV4: { [s3.credentials.accessKeyId]: s3.credentials.secretAccessKey },
    });
    const driver = s3Driver({
      endpoint: proxy.url,
      credentials: s3.credentials,
      region: s3.region,
      forcePathStyle: true,
    });
    try {
      const dir = join(tmp.dir, 'clips');
      await mkdir(dir);
      await Promise.all(
        Array.from({ length: CLIPS }, (_, i) =>
          makeTestVideo(join(dir, `clip${String(i).padStart(2, '0')}.mp4`), {
            seconds: (10 + i) / 10,
            size: `${SIZE}x${SIZE}`,
            fps: 10,
            bitrate: '100k',
          }),
        ),
      );
      let total = 0;
      for (const f of await readdir(dir)) {
        total += (await stat(join(dir, f))).size;
        await driver.put(`s3://snap/v/clips/${f}`, await readFile(join(dir, f)));
      }
      const rows = ['id,mp4'];
      for (let i = 0; i < CLIPS; i++) rows.push(`${i},clips/clip${String(i).padStart(2, '0')}.mp4`);
      await driver.put('s3://snap/v/index.csv', new TextEncoder().encode(`${rows.join('\n')}\n`));
      const engine = createFetchEngine({
        driverFor: (u) => (u.startsWith('s3:') ? driver : getDriver(u)),
      });
      const cacheLimit = Math.floor(total / 3); // a third of the clips
      const epoch = async (options: { ranged: boolean }) => {
        const prep = videoClip({
          frames: T,
          fps: 10,
          size: [SIZE, SIZE],
          ...(options.ranged ? { reader: engine } : {}),
        });
        await using ds = await StreamingDataset.open({
          remote: 's3://snap/v/index.csv',
          format: 'table',
          urlColumns: ['mp4'],
          ...(options.ranged ? { columnsToDownload: [] } : {}),
          cacheDir: join(tmp.dir, options.ranged ? 'cache-ranged' : 'cache'),
          cacheLimit,
          engine,
          seed: 11,
          batchSize: 4,
          predownload: 6,
          transform: async (row, r, call) => {
            const { video } = await prep(row, r, call);
            return { id: Number(row.id), video };
          },
        });
        const ids: number[] = [];
        let maxCache = 0;
        let bytesRead = 0;
        for await (const batch of ds.batches()) {
          for (const { id, video } of batch) {
            expect(video.shape).toEqual([T, SIZE, SIZE, 3]);
            expect(video.decodedFrames).toBe(10 + id);
            if (options.ranged) bytesRead += video.bytesRead!;
            else expect(video.bytesRead).toBeUndefined();
            ids.push(id);
          }
          maxCache = Math.max(maxCache, ds.metrics().cacheBytesInUse);
        }
        return { ids: ids.sort((a, b) => a - b), maxCache, bytesRead, metrics: ds.metrics() };
      };

      const all = Array.from({ length: CLIPS }, (_, i) => i);
      const cached = await epoch({ ranged: false });
      expect(cached.ids).toEqual(all);
      expect(cached.maxCache).toBeLessThanOrEqual(cacheLimit);
      expect(cached.metrics.cacheEvictions).toBeGreaterThan(0); // the budget was too small to keep them

      const ranged = await epoch({ ranged: true });
      expect(ranged.ids).toEqual(all);
      // Each clip's bytes were read once, by ranges (clips are smaller than one 256 KiB block).
      expect(ranged.bytesRead).toBe(total);
      expect(ranged.maxCache).toBeLessThanOrEqual(cacheLimit);
      expect(proxy.log.every((r) => r.signature === 'valid')).toBe(true);
    } finally {
      await driver.dispose?.();
      await tmp.cleanup();
    }
  },
);
