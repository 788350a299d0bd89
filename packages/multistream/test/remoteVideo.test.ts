// Videos in s3rver behind the test kit's SigV4-verifying proxy, read through the downloader's
// FetchEngine (its s3 driver holds the credentials and signs). (node:http with a bearer token:
// transforms' test/remoteMedia.test.ts.)
// 1. A clip at a late offset of a 40 s MP4 read by range requests instead of the whole object:
//    frames equal to the local decode, a fraction of the bytes, no credential reaching ffmpeg.
// 2. The Snap design with video: 20 short MP4 clips (clip i has 10 + i frames, so a decoded clip
//    says which file it came from) named by a CSV index, streamed by StreamingDataset with the
//    videoClip preset: once fetched into a node cache smaller than them, once by range requests
//    straight from the bucket (the video column left as a URL, the preset given the engine).
import { readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { rng } from '@streams/core';
import { createFetchEngine, type FetchEngine, getDriver, s3Driver } from '@streams/downloader';
import {
  type FaultProxy,
  makeTestVideo,
  makeTestVideos,
  startFaultProxy,
  startS3Server,
  type TestS3Server,
} from '@streams/testkit';
import { decodeVideo, transformsEvents, videoClip } from '@streams/transforms';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { StreamingDataset } from '../src/index.js';
import { tempDir } from './fixtures.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let s3: TestS3Server;
let proxy: FaultProxy;
let driver: ReturnType<typeof s3Driver>;
let engine: FetchEngine;

beforeAll(async () => {
  tmp = await tempDir();
  s3 = await startS3Server({ buckets: ['media'] });
  proxy = await startFaultProxy({
    target: s3.endpoint,
    verifySigV4: { [s3.credentials.accessKeyId]: s3.credentials.secretAccessKey },
  });
  driver = s3Driver({
    endpoint: proxy.url,
    credentials: s3.credentials,
    region: s3.region,
    forcePathStyle: true,
  });
  engine = createFetchEngine({ driverFor: (u) => (u.startsWith('s3:') ? driver : getDriver(u)) });
}, 60_000);

afterAll(async () => {
  await driver?.dispose?.();
  await proxy?.close();
  await s3?.close();
  await tmp?.cleanup();
});

it('a late clip by signed range requests: local frames, < 40% of the bytes, no credential in ffmpeg', async () => {
  const local = join(tmp.dir, 'long.mp4');
  await makeTestVideo(local, { seconds: 40 });
  const size = (await stat(local)).size;
  const url = 's3://media/videos/long.mp4';
  await driver.put(url, await readFile(local));
  const lines: string[] = [];
  const reads: { bytes: number | undefined; url: unknown }[] = [];
  const off = transformsEvents.on((e) => {
    // The child is alive here: it waits on our loopback server, which answers on a later tick.
    if (e.name === 'ffmpeg.spawn')
      lines.push(readFileSync(`/proc/${e.attrs?.pid}/cmdline`, 'utf8').replaceAll('\0', ' '));
    if (e.name === 'remote.read') reads.push({ bytes: e.bytes, url: e.attrs?.url });
  });
  const CLIP = { frames: 8, size: [120, 160] as [number, number], offset: 33.7 };
  const before = proxy.log.length;
  const { video } = await videoClip({ ...CLIP, reader: engine })({ mp4: url }, rng(1)).finally(off);
  const want = await decodeVideo(local, CLIP, rng(1));
  expect(video.shape).toEqual([8, 120, 160, 3]);
  expect(Buffer.from(video.data).equals(Buffer.from(want.data))).toBe(true);
  expect(video.bytesRead!).toBeGreaterThan(0);
  expect(video.bytesRead!).toBeLessThan(0.4 * size);
  expect(reads).toEqual([{ bytes: video.bytesRead, url }]);
  // Every request was validly signed, and the clip's GETs were ranged.
  const gets = proxy.log.slice(before).filter((r) => r.method === 'GET');
  expect(gets.length).toBeGreaterThan(1);
  for (const r of gets) expect(r.headers.range).toMatch(/^bytes=\d+-\d+$/);
  expect(proxy.log.every((r) => r.signature === 'valid')).toBe(true);
  expect(lines).toHaveLength(1);
  expect(lines[0]).not.toContain(s3.credentials.accessKeyId); // S3RVER: also the secret
  expect(lines[0]).not.toMatch(/X-Amz|Signature|media\/videos|s3:/);
}, 90_000);

const CLIPS = 20;
const T = 32; // more frames than the longest clip (29): decodedFrames names the clip
const SIZE = 32;

it('a CSV index of 20 clips: every clip read once, shapes right, cache under budget; and by ranges', async () => {
  const dir = join(tmp.dir, 'clips');
  await mkdir(dir);
  await makeTestVideos(
    Array.from({ length: CLIPS }, (_, i) => ({
      path: join(dir, `clip${String(i).padStart(2, '0')}.mp4`),
      seconds: (10 + i) / 10,
    })),
    { size: `${SIZE}x${SIZE}`, fps: 10, bitrate: '100k' },
  );
  let total = 0;
  for (const f of await readdir(dir)) {
    total += (await stat(join(dir, f))).size;
    await driver.put(`s3://media/snap/clips/${f}`, await readFile(join(dir, f)));
  }
  const rows = ['id,mp4'];
  for (let i = 0; i < CLIPS; i++) rows.push(`${i},clips/clip${String(i).padStart(2, '0')}.mp4`);
  await driver.put('s3://media/snap/index.csv', new TextEncoder().encode(`${rows.join('\n')}\n`));
  const cacheLimit = Math.floor(total / 3); // a third of the clips
  const epoch = async (options: { ranged: boolean }) => {
    // No reader given: with the URL cells left unfetched, the preset reads them by ranges
    // through the reader the dataset hands every transform call (the stream's engine).
    const prep = videoClip({ frames: T, fps: 10, size: [SIZE, SIZE] });
    await using ds = await StreamingDataset.open({
      remote: 's3://media/snap/index.csv',
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
}, 180_000);
