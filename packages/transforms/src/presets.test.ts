import { readFile } from 'node:fs/promises';
import { isStreamsError, rng } from '@streams/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MediaFixtures, makeMedia } from '../test/media.js';
import { DecodeGuard } from './decodeGuard.js';
import { audioClip, textToVideo, type VideoClipSample, videoClip } from './presets.js';

let m: MediaFixtures;
let mkv: Uint8Array;
let wav: Uint8Array;
beforeAll(async () => {
  m = await makeMedia();
  mkv = await readFile(m.mkv);
  wav = await readFile(m.wav);
});
afterAll(async () => {
  await m?.cleanup();
});

describe('media presets', () => {
  it('videoClip: [T, H, W, C] from sample bytes, seeded offsets', async () => {
    const prep = videoClip({ frames: 4, fps: 5, size: [12, 16], offset: 'random' });
    const a = await prep({ mkv }, rng(3, 0, 17));
    const b = await prep({ mkv }, rng(3, 0, 17));
    expect(a.video.shape).toEqual([4, 12, 16, 3]);
    expect(a.video.offset).toBe(b.video.offset);
    expect(Array.from(a.video.data)).toEqual(Array.from(b.video.data));
    const fromPath = await videoClip({ frames: 2, size: [12, 16] })({ video: m.mkv }, rng(0));
    expect(fromPath.video.shape).toEqual([2, 12, 16, 3]);
  });

  it('videoClip with the embedded audio track over the same time span', async () => {
    const prep = videoClip({
      frames: 5,
      fps: 10,
      size: [8, 8],
      offset: 0.5,
      audio: { sampleRate: 8000 },
    });
    const { video, audio } = await prep({ mkv }, rng(0));
    expect(video.shape).toEqual([5, 8, 8, 3]);
    expect(audio?.shape).toEqual([1, 4000]); // 5 frames at 10 fps = 0.5 s at 8 kHz
    expect(audio?.offset).toBe(0.5);
    const { zeroCrossings } = await import('../test/media.js');
    expect(Math.abs(zeroCrossings(audio!.data, 200, 3800) - 2 * 440 * 0.45)).toBeLessThanOrEqual(4);
    const silent = `${m.dir}/silent-av.mkv`;
    const { ffmpegMake } = await import('../test/media.js');
    await ffmpegMake([
      '-f',
      'lavfi',
      '-i',
      'testsrc=size=16x16:rate=10:duration=1',
      '-c:v',
      'libx264',
      silent,
    ]);
    const optional = videoClip({ frames: 2, size: [4, 4], audio: { optional: true } });
    expect((await optional({ video: silent }, rng(0))).audio).toBeUndefined();
    const required = videoClip({ frames: 2, size: [4, 4], audio: {} });
    await expect(required({ video: silent }, rng(0))).rejects.toMatchObject({
      code: 'STREAMS_DECODE_FAILED',
    });
  });

  it('videoClip output layouts, inline and in a TransformPool, agree', async () => {
    const { TransformPool } = await import('./transformPool.js');
    const output = {
      dtype: 'float32',
      layout: 'CTHW',
      mean: [0.45, 0.45, 0.45],
      std: [0.225, 0.225, 0.225],
    } as const;
    const options = {
      frames: 3,
      fps: 10,
      size: [6, 8] as [number, number],
      offset: 'random' as const,
      output,
    };
    const inline = await videoClip(options)({ mkv }, rng(9));
    expect(inline.video.shape).toEqual([3, 3, 6, 8]);
    expect(inline.video.data).toBeInstanceOf(Float32Array);
    const raw = await videoClip({ ...options, output: undefined })({ mkv }, rng(9));
    // Element (c=1, t=2, y=3, x=4) of CTHW is pixel (t=2, y=3, x=4), channel 1 of THWC.
    const u8 = raw.video.data[((2 * 6 + 3) * 8 + 4) * 3 + 1]!;
    expect(inline.video.data[((1 * 3 + 2) * 6 + 3) * 8 + 4]).toBeCloseTo(
      (u8 / 255 - 0.45) / 0.225,
      5,
    );
    await using pool = new TransformPool({ size: 1 });
    const pooled = await pool.videoClip(options)({ mkv }, rng(9));
    expect(pooled.video.shape).toEqual(inline.video.shape);
    expect(pooled.video.offset).toBe(inline.video.offset);
    expect(Array.from(pooled.video.data)).toEqual(Array.from(inline.video.data));
    const t2v = await pool.textToVideo({ ...options, captionFields: ['caption'] })(
      { mkv, caption: 'bars' },
      rng(9),
    );
    expect(t2v.video.layout).toBe('CTHW');
    expect(t2v.caption).toBe('bars');
  });

  it('textToVideo: seeded caption, tokens through the hook, and the clip', async () => {
    const prep = textToVideo({
      frames: 2,
      size: [8, 8],
      captionFields: ['caption', 'alt'],
      tokenizer: (t) => Array.from(t, (c) => c.charCodeAt(0)),
      maxLength: 8,
    });
    const sample = { mp4: mkv, caption: 'a test pattern', alt: ['colour bars', 'smpte'] };
    const a = await prep(sample, rng(1));
    const b = await prep(sample, rng(1));
    expect(a.caption).toBe(b.caption);
    expect(['a test pattern', 'colour bars', 'smpte']).toContain(a.caption);
    expect(a.tokens?.ids.length).toBe(8);
    expect(a.tokens?.ids[0]).toBe(a.caption.charCodeAt(0));
    expect(a.video.shape).toEqual([2, 8, 8, 3]);
    const err = await prep({ mp4: mkv }, rng(0), { coords: { sample: 3 } }).catch(
      (e: unknown) => e,
    );
    expect(isStreamsError(err, 'STREAMS_DECODE_FAILED')).toBe(true);
    expect((err as Error).message).toMatch(/no caption/);
  });

  it('audioClip: fixed-length clips from audio files and from a video track', async () => {
    const prep = audioClip({ sampleRate: 8000, duration: 0.5, offset: 'random' });
    const a = await prep({ wav, cls: 2 }, rng(4));
    expect(a.audio.shape).toEqual([1, 4000]);
    expect(a.label).toBe(2);
    const b = await prep({ wav }, rng(4));
    expect(b.audio.offset).toBe(a.audio.offset);
    const fromVideo = await prep({ mp4: mkv }, rng(4));
    expect(fromVideo.audio.shape).toEqual([1, 4000]);
    expect(Math.max(...fromVideo.audio.data)).toBeGreaterThan(0.05);
  });

  it('broken media under a skip policy: no video track, zero length, wrong extension', async () => {
    const guard = new DecodeGuard<VideoClipSample>({ policy: 'skip', stream: 'videos' });
    const prep = videoClip({ frames: 2, size: [8, 8] });
    const samples = [
      { mp4: wav }, // an audio file named .mp4: no video track
      { mp4: new Uint8Array(0) },
      { mp4: new TextEncoder().encode('not a video at all') },
      { mp4: mkv }, // a Matroska file named .mp4 decodes: the format is sniffed
    ];
    const out = [];
    for (const [i, s] of samples.entries())
      out.push(await guard.run(() => prep(s, rng(i)), { sample: i }));
    expect(out.slice(0, 3)).toEqual([undefined, undefined, undefined]);
    expect(out[3]?.video.shape).toEqual([2, 8, 8, 3]);
    expect(guard.counts).toEqual({ ok: 1, failed: 3, skipped: 3, replaced: 0 });
  });
});
