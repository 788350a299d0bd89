// A row pairing a silent video with a separate audio file: videoClip's `audio.audioField` cuts the
// audio at the clip's offset and duration. The WAV (made by ffmpeg here) changes its tone every two
// seconds, so the frequency of the decoded audio says which stretch of it the clip got.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isStreamsError, rng } from '@streams/core';
import {
  makeTestVideo,
  makeToneSteps,
  startHttpServer,
  type TestHttpServer,
  toneFrequency,
} from '@streams/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { videoClip } from '../src/index.js';
import { httpReader } from './media.js';

const RATE = 16000;
/** The tone of second t: 300 Hz for [0, 2), 600 Hz for [2, 4), ... 1500 Hz for [8, 10). */
const STEPS = [300, 600, 900, 1200, 1500].map((frequency) => ({ frequency, seconds: 2 }));
const toneAt = (t: number) => STEPS[Math.floor(t / 2)]!.frequency;
/** Within 20 Hz (the tones are 300 Hz apart; zero crossings over 0.1 s resolve 5 Hz). */
const expectTone = (pcm: Float32Array, hz: number) =>
  expect(Math.abs(toneFrequency(pcm, RATE) - hz)).toBeLessThan(20);

let dir: string;
let mp4: string;
let wav: string;
let server: TestHttpServer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'streams-paired-audio-'));
  mp4 = join(dir, 'v.mp4');
  wav = join(dir, 'a.wav');
  await Promise.all([
    makeTestVideo(mp4, { seconds: 10, size: '64x48', fps: 10, bitrate: '200k' }),
    makeToneSteps(wav, STEPS, RATE),
  ]);
  server = await startHttpServer({ root: dir });
}, 60_000);

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

// 5 frames at 10 fps: a 0.5 s clip, so the audio is 8,000 samples.
const clip = (extra: object = {}) =>
  videoClip({
    frames: 5,
    fps: 10,
    size: [48, 64],
    audio: { sampleRate: RATE, audioField: 'wav' },
    ...extra,
  });

describe('videoClip with audio from another field', () => {
  it('the audio of a clip at offset t has the tone playing at t', async () => {
    for (const offset of [0.5, 2.7, 6.3, 8.9]) {
      const { video, audio } = await clip({ offset })({ mp4, wav }, rng(1));
      expect(video.shape).toEqual([5, 48, 64, 3]);
      expect(audio!.offset).toBe(offset);
      expect(audio!.shape).toEqual([1, 8000]);
      expect(audio!.decodedSamples).toBe(8000);
      expectTone(audio!.data, toneAt(offset));
    }
  }, 60_000);

  it('a random offset: the audio starts where the clip starts', async () => {
    let straddled = 0;
    for (let seed = 0; seed < 4; seed++) {
      const { video, audio } = await clip({ offset: 'random' })({ mp4, wav }, rng(seed));
      expect(audio!.offset).toBe(video.offset);
      expect(video.offset + 0.5).toBeLessThanOrEqual(10);
      // The first 0.1 s (1,600 samples) sits in one tone unless the draw lands just before a change.
      const head = audio!.data.subarray(0, 1600);
      if (Math.floor(video.offset / 2) !== Math.floor((video.offset + 0.1) / 2)) straddled++;
      else expectTone(head, toneAt(video.offset));
    }
    expect(straddled).toBeLessThan(4);
  }, 60_000);

  it('the audio file may be remote, read by ranges through the reader', async () => {
    const reader = httpReader();
    const { audio } = await clip({ offset: 6.4, reader })(
      { mp4, wav: `${server.url}a.wav` },
      rng(1),
    );
    expectTone(audio!.data, 1200);
    expect(audio!.bytesRead).toBeGreaterThan(0);
  }, 60_000);

  it('a row without its audio file fails, or gives audio undefined when optional', async () => {
    const err = await clip({ offset: 1 })({ mp4 }, rng(1)).catch((e: unknown) => e);
    expect(isStreamsError(err, 'STREAMS_DECODE_FAILED')).toBe(true);
    expect((err as Error).message).toContain('no audio field (looked for wav');
    const prep = videoClip({
      frames: 5,
      fps: 10,
      offset: 1,
      audio: { audioField: 'wav', optional: true },
    });
    const { video, audio } = await prep({ mp4 }, rng(1));
    expect(video.shape[0]).toBe(5);
    expect(audio).toBeUndefined();
  }, 60_000);
});
