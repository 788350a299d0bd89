import { readFile, stat } from 'node:fs/promises';
import { isStreamsError, rng } from '@streams/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ffmpegMake, type MediaFixtures, makeMedia } from '../test/media.js';
import { decodeAudio } from './decodeAudio.js';
import { decodeVideo } from './decodeVideo.js';
import { probeMedia } from './probeMedia.js';

let m: MediaFixtures;
beforeAll(async () => {
  m = await makeMedia();
});
afterAll(async () => {
  await m?.cleanup();
});

const pixel = (d: Uint8Array, [, H, W, C]: number[], t: number, y: number, x: number) =>
  Array.from(d.subarray(((t * H! + y) * W! + x) * C!, ((t * H! + y) * W! + x) * C! + C!));
const near = (got: number[], want: number[], tol = 8) =>
  got.every((v, i) => Math.abs(v - want[i]!) <= tol) || expect(got).toEqual(want);

describe('probeMedia', () => {
  it('reads duration, fps, size and audio with ffprobe and by parsing ffmpeg -i, alike', async () => {
    for (const ffprobe of [true, false]) {
      const info = await probeMedia(m.mp4, { ffprobe });
      expect(info.probedWith).toBe(ffprobe ? 'ffprobe' : 'ffmpeg');
      expect(info.duration).toBeCloseTo(2, 1);
      expect(info.video).toMatchObject({ codec: 'h264', width: 64, height: 48, fps: 10 });
      expect(info.audio).toMatchObject({ codec: 'aac', sampleRate: 16000, channels: 1 });
      const stereo = await probeMedia(m.stereo, { ffprobe });
      expect(stereo.audio).toMatchObject({ sampleRate: 44100, channels: 2 });
      expect(stereo.video).toBeUndefined();
    }
  });

  it('probes a local file once while it is unchanged', async () => {
    const { transformsEvents } = await import('./events.js');
    let spawns = 0;
    const off = transformsEvents.on((e) => {
      if (e.name === 'ffmpeg.spawn') spawns++;
    });
    try {
      const a = await probeMedia(m.flac);
      const b = await probeMedia(m.flac);
      expect(b).toEqual(a);
      expect(spawns).toBeLessThanOrEqual(1);
    } finally {
      off();
    }
  });

  it('probes bytes through stdin (spilling tail-indexed MP4s), with ffprobe and without', async () => {
    const info = await probeMedia(await readFile(m.mkv));
    expect(info.video).toMatchObject({ width: 64, height: 48 });
    for (const ffprobe of [true, false]) {
      const tail = await probeMedia(await readFile(m.mp4Tail), { ffprobe });
      expect(tail.duration).toBeCloseTo(2, 1);
      expect(tail.video).toMatchObject({ width: 64, height: 48, fps: 10 });
    }
    const clip = await decodeVideo(
      await readFile(m.mp4Tail),
      { frames: 2, offset: 'random', size: [4, 4] },
      rng(2),
    );
    expect(clip.decodedFrames).toBe(2);
  });
});

describe('decodeVideo', () => {
  it('decodes [T, H, W, C] with testsrc colour bars at known positions', async () => {
    const clip = await decodeVideo(m.mp4, { frames: 4 }, rng(0));
    expect(clip.shape).toEqual([4, 48, 64, 3]);
    expect(clip.data.byteLength).toBe(4 * 48 * 64 * 3);
    near(pixel(clip.data, clip.shape, 0, 24, 20), [255, 0, 255]); // magenta bar
    near(pixel(clip.data, clip.shape, 0, 24, 40), [0, 255, 0]); // green bar
    near(pixel(clip.data, clip.shape, 3, 24, 60), [255, 255, 255]); // white bar
    near(pixel(clip.data, clip.shape, 3, 24, 2), [0, 0, 0]); // black bar
  });

  it('resamples to the target fps, resizes, and seeks to the offset', async () => {
    // 1 s blue then 1 s red: at 5 fps from 0.6 s, frames 0-1 are blue and 2-4 red.
    const clip = await decodeVideo(
      m.blueRed,
      { frames: 5, fps: 5, offset: 0.6, size: [8, 16] },
      rng(0),
    );
    expect(clip.shape).toEqual([5, 8, 16, 3]);
    expect(clip.decodedFrames).toBe(5);
    near(pixel(clip.data, clip.shape, 0, 4, 8), [0, 0, 255]);
    near(pixel(clip.data, clip.shape, 4, 4, 8), [255, 0, 0]);
    const short = await decodeVideo(m.mp4, { frames: 2, size: 24 }, rng(0));
    expect(short.shape).toEqual([2, 24, 32, 3]); // shorter side 24, aspect kept
    const gray = await decodeVideo(m.blueRed, { frames: 1, channels: 1 }, rng(0));
    expect(gray.shape).toEqual([1, 32, 32, 1]);
  });

  it('pads a clip that runs past the end by repeating the last frame, or fails when asked', async () => {
    const clip = await decodeVideo(
      m.blueRed,
      { frames: 6, fps: 10, offset: 1.7, size: [4, 4] },
      rng(0),
    );
    expect(clip.decodedFrames).toBe(3);
    expect(Array.from(clip.data.subarray(5 * 48))).toEqual(
      Array.from(clip.data.subarray(2 * 48, 3 * 48)),
    );
    await expect(
      decodeVideo(
        m.blueRed,
        { frames: 6, fps: 10, offset: 1.7, size: [4, 4], pad: 'error' },
        rng(0),
      ),
    ).rejects.toMatchObject({ code: 'STREAMS_DECODE_FAILED' });
  });

  it('refuses a random offset on a one-shot stream with a clear error', async () => {
    const { Readable } = await import('node:stream');
    const stream = Readable.from([await readFile(m.mkv)]);
    await expect(
      decodeVideo(stream, { frames: 2, offset: 'random' }, rng(0)),
    ).rejects.toMatchObject({
      code: 'STREAMS_INVALID_ARGUMENT',
    });
    await expect(
      decodeAudio(Readable.from([await readFile(m.wav)]), { offset: 'random' }, rng(0)),
    ).rejects.toThrow(/read only once/);
  });

  it('random offsets are deterministic under a seed and keep the clip inside the video', async () => {
    const opts = { frames: 3, fps: 10, offset: 'random', size: [4, 4] } as const;
    const a = await decodeVideo(m.blueRed, opts, rng(5, 'clip'));
    const b = await decodeVideo(m.blueRed, opts, rng(5, 'clip'));
    expect(a.offset).toBe(b.offset);
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    expect(a.offset).toBeGreaterThanOrEqual(0);
    expect(a.offset).toBeLessThanOrEqual(2 - 0.3 + 1e-9);
    expect(a.decodedFrames).toBe(3);
  });

  it('reads from bytes, from a byte range of a larger file, and spills tail-indexed MP4s', async () => {
    const bytes = await readFile(m.mkv);
    const fromBytes = await decodeVideo(bytes, { frames: 2, size: [6, 8] }, rng(0));
    const fromFile = await decodeVideo(m.mkv, { frames: 2, size: [6, 8] }, rng(0));
    expect(Array.from(fromBytes.data)).toEqual(Array.from(fromFile.data));
    // A shard-like file: 1000 junk bytes, the video, junk after.
    const shard = `${m.dir}/shard.bin`;
    const { writeFile } = await import('node:fs/promises');
    await writeFile(shard, Buffer.concat([Buffer.alloc(1000, 7), bytes, Buffer.alloc(500, 9)]));
    const ranged = await decodeVideo(
      { path: shard, start: 1000, end: 1000 + bytes.length },
      { frames: 2, size: [6, 8] },
      rng(0),
    );
    expect(Array.from(ranged.data)).toEqual(Array.from(fromFile.data));
    const tail = await decodeVideo(await readFile(m.mp4Tail), { frames: 2, size: [6, 8] }, rng(0));
    expect(tail.shape).toEqual([2, 6, 8, 3]);
  });

  it.each([
    ['a file with no video track', async () => m.wav],
    ['a zero-length input', async () => new Uint8Array(0)],
    ['a truncated video', async () => (await readFile(m.mkv)).subarray(0, 300)],
    [
      'text with a video extension',
      async () => {
        const p = `${m.dir}/notvideo.mp4`;
        const { writeFile } = await import('node:fs/promises');
        await writeFile(p, 'this is not a video');
        return p;
      },
    ],
  ])('fails on %s with STREAMS_DECODE_FAILED', async (_name, make) => {
    const err = await decodeVideo(await make(), { frames: 2 }, rng(0), {
      coords: { shard: 1, sample: 9 },
    }).catch((e: unknown) => e);
    expect(isStreamsError(err, 'STREAMS_DECODE_FAILED')).toBe(true);
    expect(err).toMatchObject({ shard: 1, sample: 9 });
  });
});

describe('decodeAudio', () => {
  it.each([
    'wav',
    'mp3',
    'flac',
    'ogg',
  ] as const)('decodes %s to float32 PCM with a 440 Hz tone', async (ext) => {
    const clip = await decodeAudio(
      m[ext],
      { sampleRate: 16000, channels: 1, duration: 0.5, offset: 0.25 },
      rng(0),
    );
    expect(clip.shape).toEqual([1, 8000]);
    expect(clip.sampleRate).toBe(16000);
    // 440 Hz over 0.5 s: 440 sign changes (skip the codec's first and last few ms).
    const { zeroCrossings } = await import('../test/media.js');
    const zc = zeroCrossings(clip.data, 400, 7600); // 0.45 s
    expect(Math.abs(zc - 2 * 440 * 0.45)).toBeLessThanOrEqual(4);
    expect(Math.max(...clip.data.subarray(400, 7600))).toBeGreaterThan(0.05);
  });

  it('resamples and keeps channels apart in CT and TC layouts', async () => {
    const ct = await decodeAudio(m.stereo, { sampleRate: 8000, channels: 2, duration: 1 }, rng(0));
    expect(ct.shape).toEqual([2, 8000]);
    const { zeroCrossings } = await import('../test/media.js');
    expect(Math.abs(zeroCrossings(ct.data, 100, 7900) - 2 * 440 * 0.975)).toBeLessThanOrEqual(4);
    expect(Math.abs(zeroCrossings(ct.data, 8100, 15900) - 2 * 880 * 0.975)).toBeLessThanOrEqual(4);
    const tc = await decodeAudio(
      m.stereo,
      { sampleRate: 8000, channels: 2, duration: 1, layout: 'TC' },
      rng(0),
    );
    expect(tc.shape).toEqual([8000, 2]);
    expect(tc.data[2 * 1000 + 1]).toBeCloseTo(ct.data[8000 + 1000]!, 6);
  });

  it('zero-pads a fixed-length clip past the end; decodes the embedded track of a video', async () => {
    const clip = await decodeAudio(m.wav, { duration: 2 }, rng(0));
    expect(clip.shape).toEqual([1, 32000]);
    expect(clip.decodedSamples).toBe(16000);
    expect(clip.data.subarray(16100).every((v) => v === 0)).toBe(true);
    const fromVideo = await decodeAudio(
      m.mp4,
      { sampleRate: 16000, duration: 1, offset: 0.5 },
      rng(0),
    );
    expect(fromVideo.shape).toEqual([1, 16000]);
    const { zeroCrossings } = await import('../test/media.js');
    expect(
      Math.abs(zeroCrossings(fromVideo.data, 1000, 15000) - 2 * 440 * 0.875),
    ).toBeLessThanOrEqual(6);
  });

  it('random offsets are seeded; an input without audio fails typed', async () => {
    const a = await decodeAudio(m.flac, { duration: 0.25, offset: 'random' }, rng(1));
    const b = await decodeAudio(m.flac, { duration: 0.25, offset: 'random' }, rng(1));
    expect(a.offset).toBe(b.offset);
    expect(a.offset).toBeLessThanOrEqual(0.75);
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    const noAudio = `${m.dir}/silent.mkv`;
    await ffmpegMake([
      '-f',
      'lavfi',
      '-i',
      'testsrc=size=16x16:duration=0.3',
      '-c:v',
      'libx264',
      noAudio,
    ]);
    expect((await stat(noAudio)).size).toBeGreaterThan(0);
    await expect(decodeAudio(noAudio, { duration: 0.1 }, rng(0))).rejects.toMatchObject({
      code: 'STREAMS_DECODE_FAILED',
    });
  });
});
