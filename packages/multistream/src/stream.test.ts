import { isStreamsError } from '@streams/core';
import { describe, expect, it } from 'vitest';
import { resampleStream } from './resample.js';
import { applyStreamDefaults, parseCount, resolveWeights, Stream } from './stream.js';

const errorOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
};

describe('Stream', () => {
  it('accepts at most one of proportion, repeat and choose, naming the stream and fields', () => {
    const err = errorOf(() => Stream({ name: 'web', proportion: 0.5, repeat: 2 }));
    expect(isStreamsError(err, 'STREAMS_INVALID_CONFIG')).toBe(true);
    expect((err as Error).message).toContain('web.proportion and repeat');
    expect((err as { stream: string }).stream).toBe('web');
  });

  it('rejects negative weights and bad knobs with the field in the message', () => {
    expect((errorOf(() => Stream({ repeat: -1 }, 2)) as Error).message).toContain(
      'streams[2].repeat',
    );
    expect((errorOf(() => Stream({ choose: 'lots' })) as Error).message).toContain('choose');
    expect((errorOf(() => Stream({ downloadTimeout: 0 })) as Error).message).toContain(
      'downloadTimeout',
    );
    expect((errorOf(() => Stream({ downloadTimeout: '5 parsecs' })) as Error).message).toContain(
      'downloadTimeout',
    );
  });

  it('reads downloadTimeout as MosaicML does: a number is seconds, strings take a unit', () => {
    expect(Stream({ downloadTimeout: 60 }).downloadTimeout).toBe(60_000);
    expect(Stream({ downloadTimeout: '500ms' }).downloadTimeout).toBe(500);
    expect(Stream({ downloadTimeout: '2m' }).downloadTimeout).toBe(120_000);
    expect(applyStreamDefaults(Stream({ local: '/x' }), { downloadTimeout: 1.5 }, 0)).toMatchObject(
      {
        downloadTimeout: 1500,
      },
    );
  });

  it('parses choose shorthands', () => {
    expect(Stream({ choose: '1.5k' }).choose).toBe(1500);
    expect(parseCount('2M', 'x')).toBe(2_000_000);
    expect(parseCount(7, 'x')).toBe(7);
  });

  it('inherits unset knobs from the dataset defaults, keeping its own', () => {
    const s = applyStreamDefaults(
      Stream({ remote: 's3://b/a', downloadRetry: 5 }),
      { split: 'train', downloadRetry: 1, downloadTimeout: '1234ms', validateHash: 'sha1' },
      0,
    );
    expect(s).toMatchObject({
      split: 'train',
      downloadRetry: 5,
      downloadTimeout: 1234,
      validateHash: 'sha1',
    });
    expect(applyStreamDefaults(Stream({ local: '/x' }), {}, 0).downloadRetry).toBeUndefined();
    expect(applyStreamDefaults(Stream({ local: '/x' }), {}, 0).keepCompressed).toBe(false);
    expect((errorOf(() => applyStreamDefaults(Stream({}), {}, 3)) as Error).message).toContain(
      'streams[3].remote',
    );
  });
});

describe('resolveWeights (MosaicML apply_weights)', () => {
  const sizes = [1000, 3000];

  it('with no weights and no epochSize: every sample once', () => {
    const w = resolveWeights([Stream(), Stream()], sizes, { seed: 1 });
    expect(w.choose).toEqual([1000, 3000]);
    expect(w.repeat).toEqual([1, 1]);
    expect(w.proportion).toEqual([0.25, 0.75]);
    expect(w.epochSize).toBe(4000);
    expect(w.relative).toBe(false);
  });

  it('with epochSize and no weights: in proportion to stream size', () => {
    const w = resolveWeights([Stream(), Stream()], sizes, { seed: 1, epochSize: 1001 });
    expect(w.epochSize).toBe(1001);
    expect(w.choose.reduce((a, b) => a + b)).toBe(1001);
    // 250.25 and 750.75 floor to 250 + 750; the one missing sample goes to a seeded stream.
    expect([250, 251]).toContain(w.choose[0]);
    expect([750, 751]).toContain(w.choose[1]);
  });

  it('proportions split the total underlying size, or epochSize', () => {
    const w = resolveWeights([Stream({ proportion: 1 }), Stream({ proportion: 3 })], [500, 500], {
      seed: 0,
    });
    expect(w.choose).toEqual([250, 750]);
    expect(w.repeat).toEqual([0.5, 1.5]);
    const v = resolveWeights([Stream({ proportion: 0.5 }), Stream({ proportion: 0.5 })], [10, 10], {
      seed: 0,
      epochSize: '1k',
    });
    expect(v.choose).toEqual([500, 500]);
    expect(v.repeat).toEqual([50, 50]);
  });

  it('the rounding shortfall goes to streams picked by the seed, deterministically', () => {
    const streams = [1, 1, 1].map(() => Stream({ proportion: 1 }));
    const a = resolveWeights(streams, [10, 10, 10], { seed: 7, epochSize: 10 });
    const b = resolveWeights(streams, [10, 10, 10], { seed: 7, epochSize: 10 });
    expect(a.choose).toEqual(b.choose);
    expect(a.choose.reduce((x, y) => x + y)).toBe(10);
    expect([...a.choose].sort()).toEqual([3, 3, 4]);
    const picks = new Set(
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((seed) =>
        resolveWeights(streams, [10, 10, 10], { seed, epochSize: 10 }).choose.indexOf(4),
      ),
    );
    expect(picks.size).toBeGreaterThan(1);
  });

  it('absolute weights: repeat floors, choose is exact, unweighted streams once', () => {
    const w = resolveWeights(
      [Stream({ repeat: 2.5 }), Stream({ choose: 7 }), Stream()],
      [3, 100, 40],
      { seed: 0 },
    );
    expect(w.choose).toEqual([7, 7, 40]);
    expect(w.epochSize).toBe(54);
    expect(w.repeat[0]).toBeCloseTo(7 / 3);
    expect(resolveWeights([Stream({ repeat: 0.3 })], [10], { seed: 0 }).choose).toEqual([3]);
  });

  it('never mixes relative and absolute weights, and names the stream', () => {
    const err = errorOf(() =>
      resolveWeights([Stream({ proportion: 1 }), Stream({ name: 'code', repeat: 1 })], [1, 1], {
        seed: 0,
      }),
    );
    expect((err as Error).message).toContain('code.repeat mixes relative');
    const err2 = errorOf(() =>
      resolveWeights([Stream(), Stream({ proportion: 1 }, 1)], [1, 1], { seed: 0 }),
    );
    expect((err2 as Error).message).toContain('streams[1].proportion');
  });

  it('rejects epochSize with absolute weights, and weights on empty streams', () => {
    expect(
      (
        errorOf(() =>
          resolveWeights([Stream({ repeat: 1 })], [5], { seed: 0, epochSize: 4 }),
        ) as Error
      ).message,
    ).toContain('epochSize');
    expect(
      isStreamsError(
        errorOf(() => resolveWeights([Stream({ choose: 3 })], [0], { seed: 0 })),
        'STREAMS_INVALID_CONFIG',
      ),
    ).toBe(true);
  });
});

describe('resampleStream (MosaicML resample_streams)', () => {
  const shards = [4, 4, 2];
  const base = { seed: 3, epoch: 0, stream: 0, sampling: 'balanced' as const };

  it('keeps every sample once when choose equals the stream size', () => {
    const r = resampleStream(shards, 100, 10, base);
    expect([...r.ids]).toEqual([100, 101, 102, 103, 104, 105, 106, 107, 108, 109]);
    expect(r.unitSizes).toEqual([4, 4, 2]);
  });

  it('upsamples with whole repeats plus a seeded partial repeat of distinct samples', () => {
    const r = resampleStream(shards, 0, 25, base); // 2.5x
    expect(r.ids.length).toBe(25);
    const counts = new Map<number, number>();
    for (const id of r.ids) counts.set(id, (counts.get(id) ?? 0) + 1);
    for (const c of counts.values()) expect([2, 3]).toContain(c);
    expect(counts.size).toBe(10);
    expect(r.unitSizes.reduce((a, b) => a + b)).toBe(25);
  });

  it('refuses more than 2^32 slots with a StreamsError before allocating them', () => {
    let err: unknown;
    try {
      resampleStream(shards, 0, 2 ** 40, base);
    } catch (e) {
      err = e;
    }
    expect(isStreamsError(err, 'STREAMS_NOT_IMPLEMENTED'), String(err)).toBe(true);
  });

  it('balanced sampling redraws the partial repeat each epoch, fixed keeps it', () => {
    const draw = (epoch: number, sampling: 'balanced' | 'fixed') =>
      [...resampleStream([1000], 0, 300, { ...base, epoch, sampling }).ids].join();
    expect(draw(0, 'balanced')).toBe(draw(0, 'balanced'));
    expect(draw(0, 'balanced')).not.toBe(draw(1, 'balanced'));
    expect(draw(0, 'fixed')).toBe(draw(5, 'fixed'));
  });
});
