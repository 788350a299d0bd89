import { isStreamsError, rng } from '@streams/core';
import sharp, { type Sharp } from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeImage, headerSize } from './decodeImage.js';
import { imageClassification } from './presets.js';

/** A w x h RGB image whose red channel is 8*x and green 8*y: every pixel tells where it came from. */
function gradient(w: number, h: number): Buffer {
  const raw = Buffer.alloc(w * h * 3); // [h, w, 3]
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      raw[(y * w + x) * 3] = x * 8;
      raw[(y * w + x) * 3 + 1] = y * 8;
      raw[(y * w + x) * 3 + 2] = 100;
    }
  return raw;
}
const png = (raw: Buffer, w: number, h: number) =>
  sharp(raw, { raw: { width: w, height: h, channels: 3 } })
    .png()
    .toBuffer();

/** 32x32 with four solid quadrants: red, green / blue, white. */
function quadrants(): Buffer {
  const raw = Buffer.alloc(32 * 32 * 3);
  const colors = [
    [255, 0, 0],
    [0, 255, 0],
    [0, 0, 255],
    [255, 255, 255],
  ];
  for (let y = 0; y < 32; y++)
    for (let x = 0; x < 32; x++) {
      const c = colors[(y < 16 ? 0 : 2) + (x < 16 ? 0 : 1)]!;
      raw.set(c, (y * 32 + x) * 3);
    }
  return raw;
}
const px = (d: ArrayLike<number>, w: number, x: number, y: number, c = 3) =>
  Array.from({ length: c }, (_, k) => d[(y * w + x) * c + k]!);

describe('decodeImage', () => {
  it.each([
    ['jpeg', (s: Sharp) => s.jpeg({ quality: 95 }), 12],
    ['png', (s: Sharp) => s.png(), 0],
    ['webp', (s: Sharp) => s.webp({ lossless: true }), 0],
    ['avif', (s: Sharp) => s.avif({ quality: 90 }), 24],
    ['tiff', (s: Sharp) => s.tiff({ compression: 'lzw' }), 0],
    ['gif', (s: Sharp) => s.gif(), 0],
  ])('decodes %s with exact shape and quadrant colours', async (_name, encode, tol) => {
    const bytes = await encode(
      sharp(quadrants(), { raw: { width: 32, height: 32, channels: 3 } }),
    ).toBuffer();
    const img = await decodeImage(bytes, {}, rng(0));
    expect(img.shape).toEqual([32, 32, 3]);
    expect(img.data).toBeInstanceOf(Uint8Array);
    const expectNear = (got: number[], want: number[]) =>
      got.forEach((v, i) => {
        expect(Math.abs(v - want[i]!)).toBeLessThanOrEqual(tol);
      });
    expectNear(px(img.data, 32, 8, 8), [255, 0, 0]);
    expectNear(px(img.data, 32, 24, 8), [0, 255, 0]);
    expectNear(px(img.data, 32, 8, 24), [0, 0, 255]);
    expectNear(px(img.data, 32, 24, 24), [255, 255, 255]);
  });

  it('resizes the shorter side, exactly, and inside a box', async () => {
    const bytes = await png(gradient(32, 16), 32, 16);
    expect((await decodeImage(bytes, { ops: [{ op: 'resize', size: 8 }] }, rng(0))).shape).toEqual([
      8, 16, 3,
    ]);
    expect(
      (await decodeImage(bytes, { ops: [{ op: 'resize', size: [10, 12] }] }, rng(0))).shape,
    ).toEqual([10, 12, 3]);
    const inside = await decodeImage(
      bytes,
      { ops: [{ op: 'resize', size: [10, 10], fit: 'inside' }] },
      rng(0),
    );
    expect(inside.shape).toEqual([5, 10, 3]);
  });

  it('center-crops at the torchvision offset', async () => {
    const bytes = await png(gradient(20, 10), 20, 10);
    const img = await decodeImage(bytes, { ops: [{ op: 'centerCrop', size: 4 }] }, rng(0));
    expect(img.shape).toEqual([4, 4, 3]);
    expect(px(img.data, 4, 0, 0)).toEqual([8 * 8, 3 * 8, 100]); // left = 8, top = 3
    expect(px(img.data, 4, 3, 3)).toEqual([11 * 8, 6 * 8, 100]);
  });

  it('flips horizontally, and crops after a flip in flipped coordinates', async () => {
    const bytes = await png(gradient(20, 10), 20, 10);
    const flipped = await decodeImage(bytes, { ops: [{ op: 'horizontalFlip', p: 1 }] }, rng(0));
    expect(px(flipped.data, 20, 0, 0)).toEqual([19 * 8, 0, 100]);
    const cropped = await decodeImage(
      bytes,
      {
        ops: [
          { op: 'horizontalFlip', p: 1 },
          { op: 'centerCrop', size: [2, 6] },
        ],
      },
      rng(0),
    );
    // Flipped column j is source column 19 - j; the crop starts at flipped column 7.
    expect(px(cropped.data, 6, 0, 0)).toEqual([12 * 8, 4 * 8, 100]);
    expect(px(cropped.data, 6, 5, 1)).toEqual([7 * 8, 5 * 8, 100]);
    // A crop after resize + flip goes through sharp's post-resize extract.
    const resized = await decodeImage(
      bytes,
      {
        ops: [
          { op: 'resize', size: [10, 20] },
          { op: 'horizontalFlip', p: 1 },
          { op: 'centerCrop', size: [2, 6] },
        ],
        kernel: 'nearest',
      },
      rng(0),
    );
    expect(Array.from(resized.data)).toEqual(Array.from(cropped.data));
  });

  it('random crops are valid windows and deterministic under a seed', async () => {
    const bytes = await png(gradient(32, 32), 32, 32);
    const ops = [{ op: 'randomCrop', size: 8 } as const];
    const a = await decodeImage(bytes, { ops }, rng(42, 'crop'));
    const b = await decodeImage(bytes, { ops }, rng(42, 'crop'));
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    const offsets = new Set<string>();
    for (let s = 0; s < 8; s++) {
      const img = await decodeImage(bytes, { ops }, rng(s));
      const [x0, y0] = px(img.data, 8, 0, 0) as [number, number];
      expect(px(img.data, 8, 7, 7)).toEqual([x0 + 56, y0 + 56, 100]); // a contiguous 8x8 window
      offsets.add(`${x0},${y0}`);
    }
    expect(offsets.size).toBeGreaterThan(1);
  });

  it('random resized crop gives the target shape, deterministically', async () => {
    const bytes = await png(gradient(32, 24), 32, 24);
    const ops = [{ op: 'randomResizedCrop', size: 16 } as const, { op: 'horizontalFlip' } as const];
    const a = await decodeImage(bytes, { ops }, rng(7));
    const b = await decodeImage(bytes, { ops }, rng(7));
    expect(a.shape).toEqual([16, 16, 3]);
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    const c = await decodeImage(bytes, { ops }, rng(8));
    expect(Array.from(c.data)).not.toEqual(Array.from(a.data));
  });

  it('converts to grayscale with PIL luma weights', async () => {
    const raw = Buffer.alloc(4 * 4 * 3);
    for (let i = 0; i < 16; i++) raw.set([200, 100, 50], i * 3);
    const bytes = await png(raw, 4, 4);
    const g1 = await decodeImage(bytes, { ops: [{ op: 'grayscale' }] }, rng(0));
    expect(g1.shape).toEqual([4, 4, 1]);
    expect(g1.data[5]).toBe(Math.round((200 * 299 + 100 * 587 + 50 * 114) / 1000));
    const g3 = await decodeImage(bytes, { ops: [{ op: 'grayscale', channels: 3 }] }, rng(0));
    expect(g3.shape).toEqual([4, 4, 3]);
    expect(px(g3.data, 4, 1, 1)).toEqual([124, 124, 124]);
  });

  it('colour jitter scales brightness by one factor in range, reproducibly', async () => {
    const raw = Buffer.alloc(4 * 4 * 3, 100);
    const bytes = await png(raw, 4, 4);
    const ops = [{ op: 'colorJitter', brightness: 0.5 } as const];
    const a = await decodeImage(bytes, { ops }, rng(3));
    const b = await decodeImage(bytes, { ops }, rng(3));
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    const v = a.data[0]!;
    expect(v).toBeGreaterThanOrEqual(50);
    expect(v).toBeLessThanOrEqual(150);
    expect(new Set(a.data).size).toBe(1);
    const hue = await decodeImage(
      await png(quadrants(), 32, 32),
      { ops: [{ op: 'colorJitter', hue: 0.5 }] },
      rng(1),
    );
    expect(px(hue.data, 32, 24, 24)).toEqual([255, 255, 255]); // white has no hue
  });

  it('normalizes to float32 CHW with mean and std', async () => {
    const bytes = await png(quadrants(), 32, 32);
    const mean = [0.485, 0.456, 0.406];
    const std = [0.229, 0.224, 0.225];
    const img = await decodeImage(
      bytes,
      { output: { dtype: 'float32', layout: 'CHW', mean, std } },
      rng(0),
    );
    expect(img.shape).toEqual([3, 32, 32]);
    expect(img.data).toBeInstanceOf(Float32Array);
    const at = (c: number, y: number, x: number) => img.data[c * 1024 + y * 32 + x]!;
    expect(at(0, 0, 0)).toBeCloseTo((1 - 0.485) / 0.229, 5); // red quadrant
    expect(at(1, 0, 0)).toBeCloseTo((0 - 0.456) / 0.224, 5);
    expect(at(2, 31, 0)).toBeCloseTo((1 - 0.406) / 0.225, 5); // blue quadrant
    const u8 = await decodeImage(bytes, { output: { layout: 'CHW' } }, rng(0));
    expect(u8.shape).toEqual([3, 32, 32]);
    expect([u8.data[0], u8.data[1024], u8.data[2048]]).toEqual([255, 0, 0]);
  });

  it('sniffs the format from the bytes, not the name', async () => {
    const bytes = await png(quadrants(), 32, 32); // e.g. stored as x.jpg
    expect((await decodeImage(bytes, {}, rng(0))).shape).toEqual([32, 32, 3]);
  });

  it.each([
    [
      'a truncated JPEG',
      async () => {
        const j = await sharp(quadrants(), { raw: { width: 32, height: 32, channels: 3 } })
          .jpeg()
          .toBuffer();
        return j.subarray(0, j.length >> 1);
      },
    ],
    ['a zero-length file', async () => new Uint8Array(0)],
    ['bytes of another format', async () => new TextEncoder().encode('{"not": "an image"}')],
  ])('fails on %s with STREAMS_DECODE_FAILED and coordinates', async (_name, make) => {
    const err = await decodeImage(await make(), {}, rng(0), {
      coords: { stream: 'imgs', shard: 3, sample: 17 },
    }).catch((e: unknown) => e);
    expect(isStreamsError(err, 'STREAMS_DECODE_FAILED')).toBe(true);
    expect(err).toMatchObject({ stream: 'imgs', shard: 3, sample: 17 });
    expect((err as Error).message).toMatch(/^\[streams\/transforms\] cannot decode image/);
  });

  it('failOn none decodes what a truncated JPEG still holds', async () => {
    const j = await sharp({
      create: {
        width: 256,
        height: 256,
        channels: 3,
        background: '#808080',
        noise: { type: 'gaussian', mean: 128, sigma: 30 },
      },
    })
      .jpeg()
      .toBuffer();
    const cut = j.subarray(0, Math.floor(j.length * 0.8));
    await expect(decodeImage(cut, {}, rng(0))).rejects.toMatchObject({
      code: 'STREAMS_DECODE_FAILED',
    });
    const img = await decodeImage(cut, { failOn: 'none' }, rng(0));
    expect(img.shape).toEqual([256, 256, 3]);
  });

  it('rejects before work when the signal is aborted', async () => {
    const bytes = await png(quadrants(), 32, 32);
    const err = await decodeImage(bytes, {}, rng(0), { signal: AbortSignal.abort() }).catch(
      (e: unknown) => e,
    );
    expect((err as Error).name).toBe('AbortError');
  });

  it('reads JPEG/PNG sizes from headers and applies EXIF orientation', async () => {
    const raw = gradient(20, 10);
    const jpg = await sharp(raw, { raw: { width: 20, height: 10, channels: 3 } })
      .jpeg()
      .toBuffer();
    expect(headerSize(jpg)).toEqual({ width: 20, height: 10 });
    expect(headerSize(await png(raw, 20, 10))).toEqual({ width: 20, height: 10 });
    const rotated = await sharp(raw, { raw: { width: 20, height: 10, channels: 3 } })
      .jpeg()
      .withMetadata({ orientation: 6 })
      .toBuffer();
    expect(headerSize(rotated)).toBeUndefined(); // EXIF present: libvips decides
    const img = await decodeImage(rotated, { ops: [{ op: 'centerCrop', size: [20, 10] }] }, rng(0));
    expect(img.shape).toEqual([20, 10, 3]); // displayed upright: 10 wide, 20 tall
  });

  it('presets read MDS image columns: encoded { bytes } objects and PIL raw pixels', async () => {
    const prep = imageClassification({ size: 8, resize: 8, dtype: 'uint8', layout: 'HWC' });
    const jpegBytes = await sharp(quadrants(), { raw: { width: 32, height: 32, channels: 3 } })
      .png()
      .toBuffer();
    const a = await prep({ image: { format: 'png', bytes: jpegBytes }, label: 5n }, rng(0));
    expect(a.image.shape).toEqual([8, 8, 3]);
    expect(a.label).toBe(5);
    const pil = await prep(
      { image: { format: 'pil', mode: 'RGB', width: 32, height: 32, bytes: quadrants() } },
      rng(0),
    );
    expect(Array.from(pil.image.data)).toEqual(Array.from(a.image.data));
    const gray = new Uint8Array(4 * 2).fill(77);
    const l = await decodeImage({ width: 4, height: 2, channels: 1, data: gray }, {}, rng(0));
    expect(l.shape).toEqual([2, 4, 3]);
    expect(px(l.data, 4, 3, 1)).toEqual([77, 77, 77]);
    const bad = await prep(
      { image: { format: 'pil', mode: 'CMYK', width: 1, height: 1, bytes: new Uint8Array(4) } },
      rng(0),
    ).catch((e: unknown) => e);
    expect(isStreamsError(bad, 'STREAMS_UNSUPPORTED_ENCODING')).toBe(true);
  });

  it('with no imageField, a sample without the default names gives its one image field, by content', async () => {
    const prep = imageClassification({ size: 8, resize: 8, dtype: 'uint8', layout: 'HWC' });
    const raw = { raw: { width: 32, height: 32, channels: 3 as const } };
    const pngBytes = new Uint8Array(await sharp(quadrants(), raw).png().toBuffer());
    const jpegBytes = new Uint8Array(await sharp(quadrants(), raw).jpeg().toBuffer());
    const named = await prep({ image: pngBytes, label: 1 }, rng(0));
    // An index table's fetched `url` column (bytes), and a converted one ({ format, bytes }).
    const url = await prep({ url: pngBytes, caption: 'a square', label: 1 }, rng(0));
    expect(Array.from(url.image.data)).toEqual(Array.from(named.image.data));
    const mds = await prep({ thumb_url: { format: 'png', bytes: pngBytes }, label: 1 }, rng(0));
    expect(Array.from(mds.image.data)).toEqual(Array.from(named.image.data));
    // Text that is not an image is not taken for one; two images are a choice left to the user.
    const none = await prep({ url: new TextEncoder().encode('not an image at all') }, rng(0)).catch(
      (e: unknown) => e,
    );
    expect(none).toMatchObject({ code: 'STREAMS_DECODE_FAILED' });
    expect(String(none)).toContain('has no image field');
    const two = await prep({ a_url: pngBytes, b_url: jpegBytes }, rng(0)).catch((e: unknown) => e);
    expect(two).toMatchObject({ code: 'STREAMS_DECODE_FAILED' });
    expect(String(two)).toContain('several fields hold images (a_url, b_url)');
    // A field named by the user is the only one read.
    const explicit = imageClassification({ imageField: 'photo', size: 8, resize: 8 });
    await expect(explicit({ url: pngBytes }, rng(0))).rejects.toMatchObject({
      code: 'STREAMS_DECODE_FAILED',
    });
  });

  it('decodes straight to one channel for grayscale datasets (MNIST-like raw pixels too)', async () => {
    const digit = new Uint8Array(28 * 28); // [28, 28]
    for (let y = 10; y < 18; y++) for (let x = 12; x < 16; x++) digit[y * 28 + x] = 255;
    const prep = imageClassification({
      size: 28,
      resize: 28,
      channels: 1,
      mean: [0.1307],
      std: [0.3081],
    });
    const { image } = await prep(
      { image: { format: 'pil', mode: 'L', width: 28, height: 28, bytes: digit } },
      rng(0),
    );
    expect(image.shape).toEqual([1, 28, 28]);
    expect(image.data[12 * 28 + 13]).toBeCloseTo((1 - 0.1307) / 0.3081, 5);
    expect(image.data[0]).toBeCloseTo((0 - 0.1307) / 0.3081, 5);
    const png1 = await sharp(Buffer.from(digit), { raw: { width: 28, height: 28, channels: 1 } })
      .png()
      .toBuffer();
    const u8 = await decodeImage(
      png1,
      { channels: 1, ops: [{ op: 'centerCrop', size: 8 }] },
      rng(0),
    );
    expect(u8.shape).toEqual([8, 8, 1]);
    expect(u8.data[4 * 8 + 4]).toBe(255); // (y=14, x=14) of the source
  });

  it('random crop with padding draws windows over the zero-padded image', async () => {
    const bytes = await png(gradient(8, 8), 8, 8);
    const seen = new Set<string>();
    for (let s = 0; s < 24; s++) {
      const img = await decodeImage(
        bytes,
        { ops: [{ op: 'randomCrop', size: 8, padding: 2 }] },
        rng(s),
      );
      expect(img.shape).toEqual([8, 8, 3]);
      // Find the window offset from a pixel that is inside the source in every window: (2, 2).
      const [r, g, b] = px(img.data, 8, 2, 2) as [number, number, number];
      expect(b).toBe(100); // never padding at the centre
      const dx = 2 - r / 8; // window left in padded coordinates minus the padding
      const dy = 2 - g / 8;
      expect(Math.abs(dx)).toBeLessThanOrEqual(2);
      expect(Math.abs(dy)).toBeLessThanOrEqual(2);
      if (dx > 0) expect(px(img.data, 8, 0, 2)).toEqual([0, 0, 0]); // left columns are padding
      seen.add(`${dx},${dy}`);
    }
    expect(seen.size).toBeGreaterThan(3);
    const a = await decodeImage(
      bytes,
      { ops: [{ op: 'randomCrop', size: 8, padding: 2, fill: 128 }, { op: 'horizontalFlip' }] },
      rng(3),
    );
    const b = await decodeImage(
      bytes,
      { ops: [{ op: 'randomCrop', size: 8, padding: 2, fill: 128 }, { op: 'horizontalFlip' }] },
      rng(3),
    );
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
  });
});
