import { importOptional, type Rng, StreamsError, throwIfAborted } from '@streams/core';
import type { Sharp } from 'sharp';
import { decodeFailed, type SampleCoordinates } from './decodeGuard.js';
import { applyColor, type ImageOp, planImage, type Segment } from './imageOps.js';
import { sharpLimiter } from './limiter.js';
import type { Tensor } from './tensor.js';

/** How a decoded image is laid out in memory. */
export interface ImageOutputOptions {
  /** `uint8` (0..255, default) or `float32` ((x * scale - mean) / std). */
  dtype?: 'uint8' | 'float32';
  /** `HWC` (default) or `CHW`. */
  layout?: 'HWC' | 'CHW';
  /** Per-channel mean subtracted after scaling (float32 only), e.g. ImageNet `[0.485, 0.456, 0.406]`. */
  mean?: readonly number[];
  /** Per-channel std divided after the mean (float32 only), e.g. ImageNet `[0.229, 0.224, 0.225]`. */
  std?: readonly number[];
  /** Multiplier applied to bytes before mean/std (float32 only). Default 1/255. */
  scale?: number;
}

/** Options of {@link decodeImage}. Plain data: it can be sent to a worker thread. */
export interface DecodeImageOptions {
  /** Transforms applied in order. */
  ops?: readonly ImageOp[];
  output?: ImageOutputOptions;
  /** Resampling kernel for resizes (sharp's names). Default `lanczos3`. */
  kernel?: 'nearest' | 'linear' | 'cubic' | 'mitchell' | 'lanczos2' | 'lanczos3';
  /**
   * How picky decoding is (sharp's levels): `warning` (default: any libvips warning, e.g. a
   * truncated JPEG, fails the sample), `error`, `truncated` (only truncation fails) or `none`.
   */
  failOn?: 'none' | 'truncated' | 'error' | 'warning';
  /** 3 (RGB, default) or 1 (luminance, for grayscale datasets: no RGB round trip). */
  channels?: 1 | 3;
  /** Largest accepted input in pixels (decompression-bomb guard). Default 268402689 (sharp's). */
  limitInputPixels?: number;
}

/** Raw pixels to run the image pipeline on (e.g. an MDS `pil` column): HWC bytes, 1-4 channels. */
export interface RawImage {
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
  data: Uint8Array; // [height, width, channels]
}

/** What {@link decodeImage} accepts: encoded file bytes or raw pixels. */
export type ImageInput = Uint8Array | RawImage;

/** A decoded image: `shape` is `[h, w, c]` for HWC or `[c, h, w]` for CHW. */
export interface ImageTensor extends Tensor<Uint8Array | Float32Array> {
  dtype: 'uint8' | 'float32';
  layout: 'HWC' | 'CHW';
}

/** Call options shared by every decoder. */
export interface DecodeCallOptions {
  signal?: AbortSignal;
  /** Where the sample comes from, carried by `STREAMS_DECODE_FAILED` errors. */
  coords?: SampleCoordinates;
}

/**
 * Decodes JPEG/PNG/WebP/AVIF/TIFF/GIF bytes (format sniffed from the bytes, never the file name)
 * into RGB pixels, applies `options.ops` with randomness from `rng`, and lays the result out as
 * `options.output` says. EXIF orientation is applied; alpha is dropped; GIFs give their first frame.
 * Failures are `STREAMS_DECODE_FAILED` errors carrying `coords`.
 *
 * @example
 * const img = await decodeImage(jpegBytes, { ops: [{ op: 'resize', size: 256 }, { op: 'centerCrop', size: 224 }],
 *   output: { dtype: 'float32', layout: 'CHW', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } }, rng(0));
 * img.shape // [3, 224, 224]
 */
export async function decodeImage(
  bytes: ImageInput,
  options: DecodeImageOptions,
  rng: Rng,
  call: DecodeCallOptions = {},
): Promise<ImageTensor> {
  const { signal, coords } = call;
  throwIfAborted(signal);
  const empty = bytes instanceof Uint8Array ? bytes.byteLength === 0 : bytes.data.byteLength === 0;
  if (empty) {
    throw decodeFailed('cannot decode image', new Error('the sample is empty (0 bytes)'), coords);
  }
  const sharp = sharpModule ?? (await loadSharp());
  try {
    return await sharpLimiter.run(() => decodeRaw(sharp, bytes, options, rng, signal), { signal });
  } catch (err) {
    throw decodeFailed('cannot decode image', err, coords);
  }
}

type SharpModule = typeof import('sharp')['default'];
let sharpModule: SharpModule | undefined;

/**
 * sharp, loaded with the first image: an optional peer, so users who never decode images never
 * install its native build. Missing, it is `STREAMS_MISSING_DEPENDENCY`.
 */
async function loadSharp(): Promise<SharpModule> {
  sharpModule ??= (
    await importOptional('sharp', () => import('sharp'), {
      by: '@streams/transforms',
      feature: 'image decoding',
    })
  ).default;
  return sharpModule;
}

async function decodeRaw(
  sharp: SharpModule,
  bytes: ImageInput,
  options: DecodeImageOptions,
  rng: Rng,
  signal: AbortSignal | undefined,
): Promise<ImageTensor> {
  const input = {
    failOn: options.failOn ?? 'warning',
    limitInputPixels: options.limitInputPixels ?? 268402689,
  };
  const C = options.channels ?? 3;
  if (C !== 1 && C !== 3) {
    throw new StreamsError(
      'STREAMS_INVALID_ARGUMENT',
      `[streams/transforms] image channels must be 1 or 3, got ${C}`,
    );
  }
  const space = C === 1 ? 'b-w' : 'srgb';
  let source: () => Sharp;
  let size: { width: number; height: number } | undefined;
  if (bytes instanceof Uint8Array) {
    const encoded = bytes;
    source = () => sharp(encoded, input).autoOrient().removeAlpha().toColourspace(space);
    size = options.ops?.length ? headerSize(encoded) : undefined;
  } else {
    const { width: w, height: h, channels, data } = bytes;
    if (data.byteLength !== w * h * channels) {
      throw new Error(`raw image holds ${data.byteLength} bytes, expected ${w}x${h}x${channels}`);
    }
    source = () =>
      sharp(data, { raw: { width: w, height: h, channels } })
        .removeAlpha()
        .toColourspace(space);
    size = { width: w, height: h };
  }
  if (!size) {
    if (!(bytes instanceof Uint8Array)) throw new Error('unreachable');
    const meta = await sharp(bytes, input).metadata();
    if (!meta.width || !meta.height) {
      throw new Error(`no image dimensions in a ${meta.format ?? 'unknown'} file`);
    }
    const swap = (meta.orientation ?? 1) >= 5;
    size = swap
      ? { width: meta.height, height: meta.width }
      : { width: meta.width, height: meta.height };
  }
  const { width, height } = size;
  const plan = planImage(options.ops ?? [], width, height, rng);

  let raw: Buffer | undefined;
  let info: { width: number; height: number; channels: number } = { width, height, channels: C };
  for (const seg of plan.segments) {
    throwIfAborted(signal);
    if (seg.pad) {
      if (!raw) raw = (await source().raw().toBuffer({ resolveWithObject: true })).data;
      raw = padPixels(raw, info.width, info.height, C, seg.pad.size, seg.pad.fill);
      info = {
        width: info.width + 2 * seg.pad.size,
        height: info.height + 2 * seg.pad.size,
        channels: C,
      };
      continue;
    }
    let img = raw
      ? sharp(raw, { raw: { width: info.width, height: info.height, channels: C as 1 | 3 } })
      : source();
    img = applySegment(img, seg, options.kernel ?? 'lanczos3');
    const out = await img.raw().toBuffer({ resolveWithObject: true });
    raw = out.data;
    info = { width: out.info.width, height: out.info.height, channels: out.info.channels };
    if (seg.flop) flopPixels(raw, info.width, info.height, info.channels);
    if (info.channels !== C) {
      throw new Error(`expected ${C} channels after colour conversion, got ${info.channels}`);
    }
  }
  throwIfAborted(signal);
  const pixels = new Uint8Array(raw!.buffer, raw!.byteOffset, raw!.byteLength); // [h, w, C]
  const col = applyColor(pixels, C, plan.color);
  return layoutImage(col.data, info.height, info.width, col.channels, options.output ?? {});
}

/** Pads HWC pixels with `p` pixels of value `fill` on every side. */
function padPixels(src: Buffer, w: number, h: number, c: number, p: number, fill: number): Buffer {
  const pw = w + 2 * p;
  const out = Buffer.alloc(pw * (h + 2 * p) * c, fill); // [h + 2p, w + 2p, c]
  for (let y = 0; y < h; y++) src.copy(out, ((y + p) * pw + p) * c, y * w * c, (y + 1) * w * c);
  return out;
}

/**
 * Width and height read from a JPEG or PNG header without a libvips call (the common formats of
 * training sets); `undefined` for other formats or JPEGs with EXIF (orientation may swap them).
 */
export function headerSize(b: Uint8Array): { width: number; height: number } | undefined {
  if (b.length > 24 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) {
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    return { width: dv.getUint32(16), height: dv.getUint32(20) };
  }
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return undefined;
  let i = 2;
  while (i + 9 < b.length) {
    if (b[i] !== 0xff) return undefined;
    const marker = b[i + 1]!;
    if (marker === 0xff) {
      i++;
      continue;
    }
    const len = (b[i + 2]! << 8) | b[i + 3]!;
    if (
      marker === 0xe1 &&
      b[i + 4] === 0x45 &&
      b[i + 5] === 0x78 &&
      b[i + 6] === 0x69 &&
      b[i + 7] === 0x66
    ) {
      return undefined; // Exif: let libvips read the orientation
    }
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      const height = (b[i + 5]! << 8) | b[i + 6]!;
      const width = (b[i + 7]! << 8) | b[i + 8]!;
      return width > 0 && height > 0 ? { width, height } : undefined;
    }
    i += 2 + len;
  }
  return undefined;
}

function applySegment(img: Sharp, seg: Segment, kernel: DecodeImageOptions['kernel']): Sharp {
  let out = img;
  // sharp runs these in its own order whatever the call order: extract, resize, extract. The
  // segment's mirror is done in JS afterwards (see planImage).
  if (seg.pre) out = out.extract(seg.pre);
  if (seg.resize) out = out.resize(seg.resize.width, seg.resize.height, { fit: 'fill', kernel });
  if (seg.post) out = out.extract(seg.post);
  return out;
}

/** Mirrors HWC pixels left-right in place. */
function flopPixels(px: Uint8Array, w: number, h: number, c: number): void {
  for (let y = 0; y < h; y++) {
    for (let a = y * w * c, b = (y * w + w - 1) * c; a < b; a += c, b -= c) {
      for (let k = 0; k < c; k++) {
        const t = px[a + k]!;
        px[a + k] = px[b + k]!;
        px[b + k] = t;
      }
    }
  }
}

/** Converts HWC bytes to the requested dtype and layout (float32 via a per-channel lookup table). */
export function layoutImage(
  data: Uint8Array, // [h, w, c]
  h: number,
  w: number,
  c: number,
  output: ImageOutputOptions,
): ImageTensor {
  const layout = output.layout ?? 'HWC';
  const dtype = output.dtype ?? 'uint8';
  const shape = layout === 'HWC' ? [h, w, c] : [c, h, w];
  const n = h * w;
  if (dtype === 'uint8') {
    if (output.mean || output.std) {
      throw new StreamsError(
        'STREAMS_INVALID_ARGUMENT',
        '[streams/transforms] mean/std need output dtype float32',
        {
          fix: "set output.dtype to 'float32'",
        },
      );
    }
    if (layout === 'HWC' || c === 1) return { data, shape, dtype, layout };
    const out = new Uint8Array(c * n); // [c, h, w]
    for (let k = 0; k < c; k++) {
      const base = k * n;
      for (let i = 0; i < n; i++) out[base + i] = data[i * c + k]!;
    }
    return { data: out, shape, dtype, layout };
  }
  const scale = output.scale ?? 1 / 255;
  // (x * scale - mean) / std = x * a + b, one multiply-add per element.
  const a = new Float64Array(c); // [c]
  const b = new Float64Array(c); // [c]
  for (let k = 0; k < c; k++) {
    const mean = pick(output.mean, k, 0, 'mean');
    const std = pick(output.std, k, 1, 'std');
    a[k] = scale / std;
    b[k] = -mean / std;
  }
  const out = new Float32Array(c * n); // [h, w, c] or [c, h, w]
  if (layout === 'HWC') {
    for (let k = 0; k < c; k++) {
      const ak = a[k]!;
      const bk = b[k]!;
      for (let i = k; i < n * c; i += c) out[i] = data[i]! * ak + bk;
    }
  } else {
    for (let k = 0; k < c; k++) {
      const ak = a[k]!;
      const bk = b[k]!;
      const base = k * n;
      for (let i = 0, j = k; i < n; i++, j += c) out[base + i] = data[j]! * ak + bk;
    }
  }
  return { data: out, shape, dtype, layout };
}

function pick(
  values: readonly number[] | undefined,
  k: number,
  dflt: number,
  name: string,
): number {
  if (!values) return dflt;
  // One value broadcasts over channels (grayscale outputs with ImageNet stats use channel 0).
  const v = values.length === 1 ? values[0] : (values[k] ?? values[0]);
  if (v === undefined || (name === 'std' && v === 0)) {
    throw new StreamsError(
      'STREAMS_INVALID_ARGUMENT',
      `[streams/transforms] bad output.${name} ${JSON.stringify(values)}`,
      {
        fix: `give one ${name} per channel${name === 'std' ? ', all non-zero' : ''}`,
      },
    );
  }
  return v;
}
