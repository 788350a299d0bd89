// Remote videos read by range requests: a 40 s MP4 (made by ffmpeg here) on a node:http server
// that wants a bearer token, read through a RangedReader built on fetch (as @streams/downloader's
// FetchEngine would read it; that wiring is tested against s3rver in @streams/multistream). A clip
// at a late offset must equal the local decode, cost a fraction of the file, and no ffmpeg command
// line may hold the token or the remote URL.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAbortError, isStreamsError, rng, type StreamsError } from '@streams/core';
import { makeTestVideo, startHttpServer, type TestHttpServer } from '@streams/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  activeFfmpegPids,
  decodeVideo,
  probeMedia,
  type RangedReader,
  transformsEvents,
  videoClip,
} from '../src/index.js';
import { serveRemoteMedia } from '../src/remoteMedia.js';
import { httpReader } from './media.js';

const TOKEN = 'sekret-token-4f9a';
let dir: string;
let server: TestHttpServer;
let size: number;
let local: string;
let remote: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'streams-remote-media-'));
  local = join(dir, 'long.mp4');
  await makeTestVideo(local, { seconds: 40 });
  size = (await stat(local)).size;
  server = await startHttpServer({ root: dir, auth: { bearer: TOKEN } });
  remote = `${server.url}long.mp4`;
}, 60_000);

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

/** Command lines of the ffmpeg/ffprobe children spawned while `fn` runs (read from /proc at spawn). */
async function commandLines<T>(fn: () => Promise<T>): Promise<{ result: T; lines: string[][] }> {
  const lines: string[][] = [];
  const off = transformsEvents.on((e) => {
    if (e.name !== 'ffmpeg.spawn') return;
    // The child is alive here: it waits on our loopback server, which answers on a later tick.
    const raw = readFileSync(`/proc/${e.attrs?.pid}/cmdline`, 'utf8');
    lines.push(raw.split('\0').filter(Boolean));
  });
  try {
    return { result: await fn(), lines };
  } finally {
    off();
  }
}

const CLIP = { frames: 8, size: [120, 160] as [number, number] };

describe('decodeVideo of a remote video read by ranges', () => {
  it('a late clip equals the local decode, reads < 40% of the file, and keeps the token and URL from ffmpeg', async () => {
    const reader = httpReader({ bearer: TOKEN });
    const { result: clip, lines } = await commandLines(() =>
      decodeVideo({ url: remote, reader }, { ...CLIP, offset: 31.3 }, rng(1)),
    );
    const want = await decodeVideo(local, { ...CLIP, offset: 31.3 }, rng(1));
    expect(clip.shape).toEqual([8, 120, 160, 3]);
    expect(clip.decodedFrames).toBe(8);
    expect(Buffer.from(clip.data).equals(Buffer.from(want.data))).toBe(true);
    expect(clip.bytesRead).toBe(reader.bytes);
    expect(clip.bytesRead!).toBeGreaterThan(0);
    expect(clip.bytesRead!).toBeLessThan(0.4 * size);
    expect(want.bytesRead).toBeUndefined();
    expect(lines.length).toBe(1);
    const args = lines.flat().join(' ');
    expect(args).not.toContain(TOKEN);
    expect(args).not.toContain(remote);
    expect(args).toMatch(/-ss 31\.3\d* .*-i http:\/\/127\.0\.0\.1:\d+\/[0-9a-f]{32}\/media\.mp4/);
    // Every request to the real server carried the token: the reader did the reading.
    expect(server.requests.every((r) => r.headers.authorization === `Bearer ${TOKEN}`)).toBe(true);
  }, 60_000);

  it('a random offset probes and decodes through one endpoint, and matches the local decode there', async () => {
    const reader = httpReader({ bearer: TOKEN });
    const { result: clip, lines } = await commandLines(() =>
      decodeVideo({ url: remote, reader }, { ...CLIP, fps: 5, offset: 'random' }, rng(7)),
    );
    // ffprobe, then ffmpeg: both on the same endpoint, neither with the token.
    expect(lines.map((l) => l.find((a) => a.startsWith('http://')))).toEqual([
      expect.stringMatching(/^http:\/\/127\.0\.0\.1:/),
      lines[0]?.find((a) => a.startsWith('http://')),
    ]);
    expect(lines.flat().join(' ')).not.toContain(TOKEN);
    const span = 8 / 5;
    expect(clip.offset).toBeGreaterThanOrEqual(0);
    expect(clip.offset).toBeLessThanOrEqual(40 - span);
    const want = await decodeVideo(local, { ...CLIP, fps: 5, offset: clip.offset }, rng(7));
    expect(Buffer.from(clip.data).equals(Buffer.from(want.data))).toBe(true);
    // The same offset as a local random draw with the same seed.
    expect(clip.offset).toBe(
      (await decodeVideo(local, { ...CLIP, fps: 5, offset: 'random' }, rng(7))).offset,
    );
    expect(clip.bytesRead).toBe(reader.bytes);
    expect(clip.bytesRead!).toBeLessThan(0.4 * size);
  }, 60_000);

  it('probeMedia reads a remote video by ranges', async () => {
    const reader = httpReader({ bearer: TOKEN });
    const info = await probeMedia({ url: remote, reader });
    expect(info.duration).toBeCloseTo(40, 0);
    expect(info.video).toMatchObject({ width: 320, height: 240, fps: 25 });
    expect(reader.bytes).toBeLessThan(0.2 * size);
  }, 30_000);

  it("a reader failing mid-clip fails the decode with the reader's error and leaves no ffmpeg behind", async () => {
    const reader = httpReader({ bearer: TOKEN, fail: (n) => n >= 1 });
    const err = await decodeVideo({ url: remote, reader }, { ...CLIP, offset: 31 }, rng(1)).catch(
      (e: unknown) => e,
    );
    expect(isStreamsError(err, 'STREAMS_NETWORK')).toBe(true);
    expect((err as Error).message).toContain('connection reset');
    expect(activeFfmpegPids()).toEqual([]);
  }, 30_000);

  it('a missing object fails before ffmpeg starts, with the reader error (not found)', async () => {
    const { result: err, lines } = await commandLines(() =>
      decodeVideo(
        { url: `${server.url}nope.mp4`, reader: httpReader({ bearer: TOKEN }) },
        CLIP,
        rng(1),
      ).catch((e: unknown) => e),
    );
    expect(isStreamsError(err, 'STREAMS_NOT_FOUND')).toBe(true);
    expect(lines).toEqual([]);
  });

  it('abort kills ffmpeg and closes the endpoint', async () => {
    const ac = new AbortController();
    let endpoint = '';
    const off = transformsEvents.on((e) => {
      if (e.name !== 'ffmpeg.spawn') return;
      const args = readFileSync(`/proc/${e.attrs?.pid}/cmdline`, 'utf8').split('\0');
      endpoint = args.find((a) => a.startsWith('http://127.0.0.1')) ?? '';
    });
    // A reader that never answers: the decode hangs on its first read until the abort.
    const reader: RangedReader = {
      stat: async () => ({ size }),
      read: (_url, o) =>
        new Promise((_, reject) =>
          o.signal?.addEventListener('abort', () => reject(o.signal?.reason)),
        ),
    };
    const pending = decodeVideo({ url: remote, reader }, CLIP, rng(1), { signal: ac.signal });
    try {
      await expect.poll(() => endpoint, { timeout: 20_000 }).not.toBe('');
      ac.abort();
      const err = await pending.catch((e: unknown) => e);
      expect(isAbortError(err)).toBe(true);
    } finally {
      off();
    }
    expect(activeFfmpegPids()).toEqual([]);
    await expect(fetch(endpoint)).rejects.toThrow();
  }, 30_000);
});

describe('serveRemoteMedia', () => {
  it('answers ranges only on its own path, in windows, and refuses connections once closed', async () => {
    const reader = httpReader({ bearer: TOKEN });
    const served = await serveRemoteMedia({ url: remote, reader });
    const base = new URL(served.url);
    expect(base.hostname).toBe('127.0.0.1');
    expect((await fetch(`${base.origin}/other/media.mp4`)).status).toBe(404);
    const head = await fetch(served.url, { headers: { range: 'bytes=10-109' } });
    expect(head.status).toBe(206);
    expect(head.headers.get('content-range')).toBe(`bytes 10-109/${size}`);
    const want = readFileSync(local).subarray(10, 110);
    expect(Buffer.from(await head.arrayBuffer()).equals(want)).toBe(true);
    // An open-ended range gets one block; reading on from its end gets two, then four.
    const lengths: number[] = [];
    let at = 0;
    for (let i = 0; i < 3; i++) {
      const r = await fetch(served.url, { headers: { range: `bytes=${at}-` } });
      const got = (await r.arrayBuffer()).byteLength;
      lengths.push(got);
      at += got;
    }
    expect(lengths).toEqual([256 << 10, 512 << 10, 1024 << 10]);
    expect((await fetch(served.url, { headers: { range: `bytes=${size}-` } })).status).toBe(416);
    // Blocks are read once: the first block again costs nothing.
    const before = served.bytesRead;
    await (await fetch(served.url, { headers: { range: 'bytes=0-99' } })).arrayBuffer();
    expect(served.bytesRead).toBe(before);
    expect(served.bytesRead).toBe(reader.bytes);
    await served.close();
    await expect(fetch(served.url)).rejects.toThrow();
  });
});

describe('videoClip with a reader', () => {
  it('reads a URL field by ranges and reports the bytes', async () => {
    const reader = httpReader({ bearer: TOKEN });
    const prep = videoClip({ ...CLIP, offset: 20, reader, output: { dtype: 'float32' } });
    const { video } = await prep({ mp4: remote }, rng(3));
    expect(video.shape).toEqual([8, 120, 160, 3]);
    expect(video.bytesRead).toBe(reader.bytes);
    expect(video.bytesRead!).toBeLessThan(0.4 * size);
  }, 30_000);

  it("without a reader of its own, it reads through the caller's (the dataset's engine)", async () => {
    const own = httpReader({ bearer: TOKEN });
    const callers = httpReader({ bearer: TOKEN });
    const mine = await videoClip({ ...CLIP, offset: 20, reader: own })({ mp4: remote }, rng(3), {
      reader: callers,
    });
    expect(own.bytes).toBeGreaterThan(0); // a preset's own reader wins
    expect(callers.bytes).toBe(0);
    const { video } = await videoClip({ ...CLIP, offset: 20 })({ mp4: remote }, rng(3), {
      reader: callers,
    });
    expect(video.bytesRead).toBe(callers.bytes);
    expect(video.bytesRead!).toBeLessThan(0.4 * size);
    expect(Buffer.from(video.data.buffer).equals(Buffer.from(mine.video.data.buffer))).toBe(true);
  }, 30_000);

  it('an s3:// field without a reader is a clear error', async () => {
    const prep = videoClip(CLIP);
    const err = await prep({ mp4: 's3://bucket/a.mp4?X-Amz-Signature=abc' }, rng(3)).catch(
      (e: unknown) => e,
    );
    expect(isStreamsError(err, 'STREAMS_INVALID_ARGUMENT')).toBe(true);
    expect((err as StreamsError).message).toContain('no reader');
    expect((err as StreamsError).message).not.toContain('abc');
  });
});
