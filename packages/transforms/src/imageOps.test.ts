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

describe('planImage composition (property, real pixels)', () => {
  /** Crops and flips applied one at a time on raw pixels, drawing from the rng like planImage. */
  function reference(
    px: Uint8Array,
    w0: number,
    h0: number,
    ops: ImageOp[],
    r: ReturnType<typeof rng>,
  ): { px: Uint8Array; w: number; h: number } | null {
    let cur = px;
    let w = w0;
    let h = h0;
    const crop = (left: number, top: number, cw: number, ch: number) => {
      const out = new Uint8Array(cw * ch * 3);
      for (let y = 0; y < ch; y++)
        out.set(
          cur.subarray(((top + y) * w + left) * 3, ((top + y) * w + left + cw) * 3),
          y * cw * 3,
        );
      cur = out;
      w = cw;
      h = ch;
    };
    for (const o of ops) {
      if (o.op === 'centerCrop' && typeof o.size !== 'number') {
        const [ch, cw] = o.size;
        if (ch > h || cw > w) return null; // planImage would upscale first: not this property
        crop(Math.round((w - cw) / 2), Math.round((h - ch) / 2), cw, ch);
      } else if (o.op === 'randomCrop' && typeof o.size === 'number') {
        if (o.size > h || o.size > w) return null;
        const top = r.int(h - o.size + 1);
        const left = r.int(w - o.size + 1);
        crop(left, top, o.size, o.size);
      } else if (o.op === 'horizontalFlip') {
        if (r.float() < (o.p ?? 0.5)) {
          const out = new Uint8Array(cur.length);
          for (let y = 0; y < h; y++)
            for (let x = 0; x < w; x++)
              out.set(
                cur.subarray((y * w + x) * 3, (y * w + x) * 3 + 3),
                (y * w + (w - 1 - x)) * 3,
              );
          cur = out;
        }
      }
    }
    return { px: cur, w, h };
  }

  // A linear kernel: libvips' nearest kernel samples a post-resize extract differently from the
  // same region of the full resize, which would make the reference itself ambiguous.
  it('one libvips pass equals the ops applied one by one (crops and flips around a resize)', async () => {
    const { default: sharp } = await import('sharp');
    const { decodeImage } = await import('./decodeImage.js');
    const W = 24;
    const H = 18;
    const src = new Uint8Array(W * H * 3); // [H, W, 3], a unique colour per pixel
    for (let i = 0; i < W * H; i++) src.set([i & 255, (i >> 8) * 40 + 7, (i * 7) & 255], i * 3);
    const png = await sharp(src, { raw: { width: W, height: H, channels: 3 } })
      .png()
      .toBuffer();
    const tail = fc.oneof(
      fc
        .tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 }))
        .map(([h, w]) => ({ op: 'centerCrop', size: [h, w] }) as const),
      fc.integer({ min: 1, max: 6 }).map((s) => ({ op: 'randomCrop', size: s }) as const),
      fc.constant({ op: 'horizontalFlip', p: 0.5 } as const),
    );
    const head = fc.oneof(
      fc
        .tuple(fc.integer({ min: 4, max: 18 }), fc.integer({ min: 4, max: 24 }))
        .map(([h, w]) => ({ op: 'centerCrop', size: [h, w] }) as const),
      fc.integer({ min: 4, max: 18 }).map((s) => ({ op: 'randomCrop', size: s }) as const),
      fc.constant({ op: 'horizontalFlip', p: 0.5 } as const),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(head, { maxLength: 3 }),
        fc.array(tail, { minLength: 1, maxLength: 5 }),
        fc.integer(),
        async (before, after, seed) => {
          // ops before the resize run on the source, the resize, then ops on the resized image.
          const ops: ImageOp[] = [...before, { op: 'resize', size: [16, 20] }, ...after];
          const r = rng(seed);
          const first = reference(src, W, H, before, r);
          fc.pre(first !== null);
          const mid = new Uint8Array(
            await sharp(first!.px, { raw: { width: first!.w, height: first!.h, channels: 3 } })
              .resize(20, 16, { fit: 'fill', kernel: 'linear' })
              .raw()
              .toBuffer(),
          );
          const want = reference(mid, 20, 16, after, r);
          fc.pre(want !== null);
          const got = await decodeImage(png, { ops, kernel: 'linear' }, rng(seed));
          expect(got.shape).toEqual([want!.h, want!.w, 3]);
          // libvips may round a resize of an extracted region by 1 differently from a resize of
          // the same pixels on their own; a wrong pixel would be off by 7 or more in blue.
          const diff = Array.from(got.data).map((v, i) => Math.abs(v - want!.px[i]!));
          expect(Math.max(0, ...diff)).toBeLessThanOrEqual(2);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('colorJitter options', () => {
  it('rejects strengths that are not non-negative numbers instead of silently doing nothing', () => {
    const bad: unknown[] = [{ brightness: 0.2 }, -0.1, Number.NaN, '0.2'];
    for (const value of bad) {
      const op = { op: 'colorJitter', brightness: value } as unknown as ImageOp;
      expect(() => planImage([op], 8, 8, rng(1))).toThrow(
        /colorJitter brightness must be a number >= 0/,
      );
    }
    expect(() => planImage([{ op: 'colorJitter', brightness: 0.2 }], 8, 8, rng(1))).not.toThrow();
  });

  it('imageClassification rejects a non-number colorJitter', async () => {
    const { imageClassification } = await import('./presets.js');
    expect(() =>
      imageClassification({ train: true, colorJitter: { brightness: 0.2 } as unknown as number }),
    ).toThrow(expect.objectContaining({ code: 'STREAMS_INVALID_ARGUMENT' }));
  });
});
