import { rng } from '@streams/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ImageOp, planImage } from './imageOps.js';

const size = fc.integer({ min: 1, max: 48 });
const op: fc.Arbitrary<ImageOp> = fc.oneof(
  size.map((s) => ({ op: 'resize', size: s }) as const),
  fc.tuple(size, size).map(([h, w]) => ({ op: 'resize', size: [h, w] }) as const),
  fc.tuple(size, size).map(([h, w]) => ({ op: 'resize', size: [h, w], fit: 'inside' }) as const),
  fc.tuple(size, size).map(([h, w]) => ({ op: 'centerCrop', size: [h, w] }) as const),
  fc
    .tuple(size, fc.integer({ min: 0, max: 4 }))
    .map(([s, padding]) => ({ op: 'randomCrop', size: s, padding }) as const),
  size.map((s) => ({ op: 'randomResizedCrop', size: s }) as const),
  fc.constant({ op: 'horizontalFlip', p: 0.5 } as const),
);

describe('planImage (property)', () => {
  it('every extract lies inside the image it cuts, and the output size follows the last sizing op', () => {
    fc.assert(
      fc.property(size, size, fc.array(op, { maxLength: 6 }), fc.integer(), (w0, h0, ops, seed) => {
        const plan = planImage(ops, w0, h0, rng(seed));
        let w = w0;
        let h = h0;
        for (const seg of plan.segments) {
          if (seg.pad) {
            w += 2 * seg.pad.size;
            h += 2 * seg.pad.size;
            continue;
          }
          const inside = (
            r: { left: number; top: number; width: number; height: number },
            W: number,
            H: number,
          ) =>
            r.left >= 0 &&
            r.top >= 0 &&
            r.width >= 1 &&
            r.height >= 1 &&
            r.left + r.width <= W &&
            r.top + r.height <= H;
          if (seg.pre) {
            expect(inside(seg.pre, w, h)).toBe(true);
            w = seg.pre.width;
            h = seg.pre.height;
          }
          if (seg.resize) {
            expect(seg.resize.width).toBeGreaterThanOrEqual(1);
            expect(seg.resize.height).toBeGreaterThanOrEqual(1);
            w = seg.resize.width;
            h = seg.resize.height;
          }
          if (seg.post) {
            expect(inside(seg.post, w, h)).toBe(true);
            w = seg.post.width;
            h = seg.post.height;
          }
        }
        expect([w, h]).toEqual([plan.width, plan.height]);
        const last = ops.filter((o) => o.op !== 'horizontalFlip').at(-1);
        if (
          last &&
          (last.op === 'centerCrop' || last.op === 'randomCrop' || last.op === 'randomResizedCrop')
        ) {
          const [eh, ew] = typeof last.size === 'number' ? [last.size, last.size] : last.size;
          expect([plan.height, plan.width]).toEqual([eh, ew]);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('is a pure function of (ops, size, rng state)', () => {
    fc.assert(
      fc.property(size, size, fc.array(op, { maxLength: 6 }), fc.integer(), (w, h, ops, seed) => {
        expect(planImage(ops, w, h, rng(seed))).toEqual(planImage(ops, w, h, rng(seed)));
      }),
      { numRuns: 100 },
    );
  });
});
