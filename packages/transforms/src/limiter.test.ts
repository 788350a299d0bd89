import { readFile } from 'node:fs/promises';
import { rng, type StreamsEvent } from '@streams/core';
import { describe, expect, it } from 'vitest';
import { makeMedia } from '../test/media.js';
import { decodeVideo } from './decodeVideo.js';
import { transformsEvents } from './events.js';
import { configureTransforms, ffmpegLimiter } from './limiter.js';

describe('ffmpegLimiter', () => {
  it('bounds concurrent ffmpeg child processes', async () => {
    const m = await makeMedia();
    const bytes = await readFile(m.mkv);
    let live = 0;
    let peak = 0;
    const off = transformsEvents.on((e: StreamsEvent) => {
      if (e.name === 'ffmpeg.spawn') peak = Math.max(peak, ++live);
      if (e.name === 'ffmpeg.exit') live--;
    });
    const before = ffmpegLimiter;
    try {
      configureTransforms({ ffmpegConcurrency: 1 });
      const clips = await Promise.all(
        [0, 1, 2, 3].map((i) =>
          decodeVideo(bytes, { frames: 2, size: [4, 4], offset: i * 0.2 }, rng(i)),
        ),
      );
      expect(clips.map((c) => c.shape[0])).toEqual([2, 2, 2, 2]);
      expect(peak).toBe(1);
    } finally {
      configureTransforms({ ffmpegConcurrency: 2 });
      expect(ffmpegLimiter).toBe(before);
      off();
      await m.cleanup();
    }
  });
});
