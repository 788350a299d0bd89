import { readFile } from 'node:fs/promises';
import { rng, type StreamsEvent } from '@streams/core';
import { describe, expect, it } from 'vitest';
import { makeMedia } from '../test/media.js';
import { decodeVideo } from './decodeVideo.js';
import { transformsEvents } from './events.js';
import { configureTransforms, ffmpegLimiter, Limiter } from './limiter.js';

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('Limiter', () => {
  it('runs at most `limit` tasks at once and drains in order', async () => {
    const limiter = new Limiter(2);
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    await Promise.all(
      [0, 1, 2, 3, 4].map((i) =>
        limiter.run(async () => {
          running++;
          peak = Math.max(peak, running);
          await tick();
          order.push(i);
          running--;
        }),
      ),
    );
    expect(peak).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4]);
    expect(limiter.running).toBe(0);
  });

  it('a task aborted while waiting never starts; raising the limit starts waiters', async () => {
    const limiter = new Limiter(1);
    let release!: () => void;
    const first = limiter.run(
      () =>
        new Promise<void>((r) => {
          release = r;
        }),
    );
    const controller = new AbortController();
    let started = false;
    const waiting = limiter.run(
      async () => {
        started = true;
      },
      { signal: controller.signal },
    );
    expect(limiter.pending).toBe(1);
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError' });
    expect(limiter.pending).toBe(0);
    const third = limiter.run(async () => 'ran');
    limiter.setLimit(2);
    expect(await third).toBe('ran');
    release();
    await first;
    expect(started).toBe(false);
    expect(() => new Limiter(0)).toThrow(/>= 1/);
  });

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
