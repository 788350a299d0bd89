import { isStreamsError, rng, type StreamsEvent } from '@streams/core';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { DecodeGuard, guarded } from './decodeGuard.js';
import { transformsEvents } from './events.js';
import { imageClassification } from './presets.js';

const good = () =>
  sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 0, g: 128, b: 255 } } })
    .jpeg()
    .toBuffer();

describe('DecodeGuard', () => {
  const prep = imageClassification({ size: 16 });
  const broken = async (): Promise<Uint8Array> => (await good()).subarray(0, 100); // truncated JPEG

  it('error: throws STREAMS_DECODE_FAILED with the sample coordinates', async () => {
    const guard = new DecodeGuard({ policy: 'error', stream: 'train' });
    const err = await guard
      .run(async () => prep({ jpg: await broken() }, rng(0)), {
        shard: 'shard.00002.mds',
        sample: 41,
      })
      .catch((e: unknown) => e);
    expect(isStreamsError(err, 'STREAMS_DECODE_FAILED')).toBe(true);
    expect(err).toMatchObject({ stream: 'train', shard: 'shard.00002.mds', sample: 41 });
    expect(guard.counts).toEqual({ ok: 0, failed: 1, skipped: 0, replaced: 0 });
  });

  it('skip: returns undefined and counts in events; replace: reuses the last good sample', async () => {
    const events: StreamsEvent[] = [];
    const off = transformsEvents.on((e) => events.push(e));
    try {
      const skip = new DecodeGuard<unknown>({ policy: 'skip', stream: 's' });
      expect(
        await skip.run(async () => prep({ jpg: new Uint8Array(0) }, rng(0)), { sample: 1 }),
      ).toBeUndefined();
      expect(
        await skip.run(async () => prep({ jpg: await good(), cls: 4 }, rng(0)), { sample: 2 }),
      ).toMatchObject({
        label: 4,
      });
      expect(skip.counts).toEqual({ ok: 1, failed: 1, skipped: 1, replaced: 0 });

      const replace = new DecodeGuard<{ label: number | undefined }>({ policy: 'replace' });
      const first = await replace.run(async () => prep({ jpg: await good(), cls: 7 }, rng(0)), {
        sample: 0,
      });
      const second = await replace.run(async () => prep({ jpg: await broken(), cls: 8 }, rng(0)), {
        sample: 1,
      });
      expect(second).toEqual(first); // a copy of the last good sample
      expect(second).not.toBe(first);
      expect(replace.counts).toEqual({ ok: 1, failed: 1, skipped: 0, replaced: 1 });
      const failed = events.filter((e) => e.name === 'decode.failed');
      expect(failed.map((e) => e.attrs?.outcome)).toEqual(['skip', 'replace']);
      expect(failed[1]?.counters).toMatchObject({ failed: 1, replaced: 1 });
      expect(failed[0]?.attrs).toMatchObject({ stream: 's', sample: 1 });
    } finally {
      off();
    }
  });

  it('replace before any good sample uses the fallback, or skips without one', async () => {
    const zero = { label: -1 };
    const withFallback = new DecodeGuard({ policy: 'replace', fallback: () => zero });
    expect(await withFallback.run(() => Promise.reject(new Error('bad bytes')))).toBe(zero);
    const without = new DecodeGuard({ policy: 'replace' });
    expect(await without.run(() => Promise.reject(new Error('bad bytes')))).toBeUndefined();
    expect(without.counts.skipped).toBe(1);
  });

  it('never swallows an abort', async () => {
    const guard = new DecodeGuard({ policy: 'skip' });
    const err = await guard
      .run(async () => prep({ jpg: await good() }, rng(0), { signal: AbortSignal.abort() }))
      .catch((e: unknown) => e);
    expect((err as Error).name).toBe('AbortError');
  });

  it('guarded() wraps a preset with the policy and passes the call coordinates', async () => {
    const transform = guarded(imageClassification({ size: 8 }), { policy: 'skip', stream: 'g' });
    expect(
      await transform({ jpg: new Uint8Array(0) }, rng(0), { coords: { shard: 1, sample: 2 } }),
    ).toBeUndefined();
    const ok = await transform({ jpg: await good(), cls: 1 }, rng(0));
    expect(ok?.image.shape).toEqual([3, 8, 8]);
    expect(transform.guard.counts).toEqual({ ok: 1, failed: 1, skipped: 1, replaced: 0 });
    const strict = guarded(imageClassification({ size: 8 }), { policy: 'error', stream: 'g' });
    await expect(
      strict({ jpg: new Uint8Array(0) }, rng(0), { coords: { shard: 1, sample: 2 } }),
    ).rejects.toMatchObject({
      code: 'STREAMS_DECODE_FAILED',
      stream: 'g',
      shard: 1,
      sample: 2,
    });
  });
});
