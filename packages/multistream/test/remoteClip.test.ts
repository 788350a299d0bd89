// A clip at a late offset read from a remote video by range requests through the downloader's
// FetchEngine (its http and s3 drivers hold the credentials and sign), instead of downloading the
// whole object: a 40 s MP4 made by ffmpeg here, in s3rver behind the test kit's SigV4-verifying
// proxy. The frames equal the local decode at the same offset, the bytes read are a fraction of the
// file, and no credential reaches ffmpeg. (node:http with a bearer token: transforms'
// test/remoteMedia.test.ts.)
import { readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { rng } from '@streams/core';
import { createFetchEngine, getDriver, s3Driver } from '@streams/downloader';
import { makeTestVideo, startFaultProxy, startS3Server } from '@streams/testkit';
import { decodeVideo, transformsEvents, videoClip } from '@streams/transforms';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { tempDir } from './fixtures.js';

const CLIP = { frames: 8, size: [120, 160] as [number, number], offset: 33.7 };
let tmp: Awaited<ReturnType<typeof tempDir>>;
let local: string;
let size: number;

beforeAll(async () => {
  tmp = await tempDir();
  local = join(tmp.dir, 'long.mp4');
  await makeTestVideo(local, { seconds: 40 });
  size = (await stat(local)).size;
}, 60_000);

afterAll(() => tmp?.cleanup());

/** The clip, the ffmpeg command lines it spawned and its `remote.read` events. */
async function clipOf(url: string, engine: ReturnType<typeof createFetchEngine>) {
  const lines: string[] = [];
  const reads: { bytes: number | undefined; url: unknown }[] = [];
  const off = transformsEvents.on((e) => {
    // The child is alive here: it waits on our loopback server, which answers on a later tick.
    if (e.name === 'ffmpeg.spawn')
      lines.push(readFileSync(`/proc/${e.attrs?.pid}/cmdline`, 'utf8').replaceAll('\0', ' '));
    if (e.name === 'remote.read') reads.push({ bytes: e.bytes, url: e.attrs?.url });
  });
  try {
    const prep = videoClip({ ...CLIP, reader: engine });
    const { video } = await prep({ mp4: url }, rng(1));
    return { video, lines, reads };
  } finally {
    off();
  }
}

it('s3rver behind the SigV4-verifying proxy: a late clip by signed range requests', async () => {
  await using s3 = await startS3Server({ buckets: ['media'] });
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
    await driver.put('s3://media/videos/long.mp4', await readFile(local));
    const engine = createFetchEngine({
      driverFor: (u) => (u.startsWith('s3:') ? driver : getDriver(u)),
    });
    const url = 's3://media/videos/long.mp4';
    const before = proxy.log.length;
    const { video, lines, reads } = await clipOf(url, engine);
    const want = await decodeVideo(local, CLIP, rng(1));
    expect(Buffer.from(video.data).equals(Buffer.from(want.data))).toBe(true);
    expect(video.bytesRead!).toBeGreaterThan(0);
    expect(video.bytesRead!).toBeLessThan(0.4 * size);
    expect(reads).toEqual([{ bytes: video.bytesRead, url }]);
    expect(lines).toHaveLength(1);
    const log = proxy.log.slice(before);
    expect(log.length).toBeGreaterThan(1);
    expect(log.every((r) => r.signature === 'valid')).toBe(true);
    for (const r of log.filter((r) => r.method === 'GET'))
      expect(r.headers.range).toMatch(/^bytes=\d+-\d+$/);
    const args = lines.join('\n');
    expect(args).not.toContain(s3.credentials.accessKeyId); // S3RVER: also the secret
    expect(args).not.toMatch(/X-Amz|Signature|media\/videos|s3:/);
  } finally {
    await driver.dispose?.();
  }
}, 90_000);
