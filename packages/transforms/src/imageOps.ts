import { type Rng, StreamsError } from '@streams/core';

/** A size: one number (a square, or for `resize` the shorter side) or `[height, width]`. */
export type Size = number | readonly [height: number, width: number];

/**
 * One image transform, as plain data so a pipeline can be sent to a worker thread. Ops apply in
 * order; random ops draw from the rng given to the decoder, so a pipeline is a pure function of
 * (bytes, rng).
 */
export type ImageOp =
  /** `size: n` scales the shorter side to n (aspect kept); `[h, w]` is exact, or fits inside with `fit: 'inside'`. */
  | { op: 'resize'; size: Size; fit?: 'fill' | 'inside' }
  | { op: 'centerCrop'; size: Size }
  /** A random window; `padding` pads every side with `fill` (default 0) first (CIFAR-style `RandomCrop(32, padding=4)`). */
  | { op: 'randomCrop'; size: Size; padding?: number; fill?: number }
  /** Inception-style crop: area fraction in `scale`, aspect ratio in `ratio` (log-uniform), then resized to `size`. */
  | { op: 'randomResizedCrop'; size: Size; scale?: [number, number]; ratio?: [number, number] }
  /** Mirrors left-right with probability `p` (default 0.5; 1 always flips). */
  | { op: 'horizontalFlip'; p?: number }
  /** ITU-R 601-2 luma with probability `p` (default 1); `channels` 1 or 3 (default: 1 when p is 1, else 3). */
  | { op: 'grayscale'; p?: number; channels?: 1 | 3 }
  /** torchvision ColorJitter semantics: factors drawn uniformly in [1-x, 1+x] (hue in [-h, h]), random order. */
  | {
      op: 'colorJitter';
      brightness?: number;
      contrast?: number;
      saturation?: number;
      hue?: number;
      p?: number;
    };

interface Rect {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * One libvips pass: pre-resize extract, resize, post-resize extract; then, when `flop` is set, a
 * left-right mirror of the pass's output done in JS. Crop rects are stored unflipped (a crop asked
 * for after a flip is mirrored back), which is exact because crops and mirrors commute.
 */
export interface Segment {
  pre?: Rect;
  resize?: { width: number; height: number };
  post?: Rect;
  /** Mirror the pass's output left-right. */
  flop: boolean;
  /** Pad the pixels so far on every side with `fill` (done in JS between libvips passes). */
  pad?: { size: number; fill: number };
}

/** Per-pixel colour work done in JS on the final RGB bytes (exact and deterministic). */
export type ColorStep =
  | { kind: 'grayscale'; channels: 1 | 3 }
  | { kind: 'brightness' | 'contrast' | 'saturation' | 'hue'; factor: number };

/** A resolved pipeline: libvips passes (usually one) then colour steps. Pure data, derived from (ops, size, rng). */
export interface ImagePlan {
  segments: Segment[];
  color: ColorStep[];
  width: number;
  height: number;
}

function hw(size: Size): [number, number] {
  const [h, w] = typeof size === 'number' ? [size, size] : size;
  if (!(Number.isInteger(h) && Number.isInteger(w) && h >= 1 && w >= 1)) {
    throw new StreamsError(
      'STREAMS_INVALID_ARGUMENT',
      `[streams/transforms] bad image size ${JSON.stringify(size)}`,
      {
        fix: 'use a positive integer or [height, width] of positive integers',
      },
    );
  }
  return [h, w];
}

/**
 * Resolves `ops` for an image of `width` x `height` into an {@link ImagePlan}, drawing every
 * random choice from `rng`. Crops and flips compose into extract/resize/extract plus a mirror so that the
 * usual pipelines (resize + crop, random resized crop, flip) decode in one libvips pass.
 */
export function planImage(
  ops: readonly ImageOp[],
  width: number,
  height: number,
  rng: Rng,
): ImagePlan {
  const segments: Segment[] = [];
  const color: ColorStep[] = [];
  let seg: Segment = { flop: false };
  let w = width;
  let h = height;

  const crop = (r: Rect) => {
    if (r.left === 0 && r.top === 0 && r.width === w && r.height === h) return; // the whole image
    // Rects are kept unflipped; a crop taken after a flip is mirrored back.
    const left = seg.flop ? w - r.left - r.width : r.left;
    const rect = { left, top: r.top, width: r.width, height: r.height };
    if (seg.resize) {
      seg.post = seg.post
        ? { ...rect, left: seg.post.left + rect.left, top: seg.post.top + rect.top }
        : rect;
    } else {
      seg.pre = seg.pre
        ? { ...rect, left: seg.pre.left + rect.left, top: seg.pre.top + rect.top }
        : rect;
    }
    w = r.width;
    h = r.height;
  };
  const resize = (nw: number, nh: number) => {
    if (nw === w && nh === h) return;
    // A resize cannot come after a post-resize crop in one pass; and a flip before a resize is
    // done before it (resampling is not exactly mirror-symmetric), so both start a new pass.
    if (seg.post || seg.flop) {
      segments.push(seg);
      seg = { flop: false };
    }
    seg.resize = { width: nw, height: nh };
    w = nw;
    h = nh;
  };
  const ensureAtLeast = (ch: number, cw: number) => {
    if (ch <= h && cw <= w) return;
    const s = Math.max(ch / h, cw / w);
    resize(Math.max(cw, Math.round(w * s)), Math.max(ch, Math.round(h * s)));
  };

  for (const op of ops) {
    switch (op.op) {
      case 'resize': {
        if (typeof op.size === 'number') {
          const s = hw(op.size)[0];
          if (w <= h) resize(s, Math.max(1, Math.round((h * s) / w)));
          else resize(Math.max(1, Math.round((w * s) / h)), s);
        } else {
          const [th, tw] = hw(op.size);
          if (op.fit === 'inside') {
            const s = Math.min(th / h, tw / w);
            resize(Math.max(1, Math.round(w * s)), Math.max(1, Math.round(h * s)));
          } else resize(tw, th);
        }
        break;
      }
      case 'centerCrop': {
        const [ch, cw] = hw(op.size);
        ensureAtLeast(ch, cw);
        // torchvision rounds the offset to nearest: int(round((h - ch) / 2)).
        crop({
          left: Math.round((w - cw) / 2),
          top: Math.round((h - ch) / 2),
          width: cw,
          height: ch,
        });
        break;
      }
      case 'randomCrop': {
        const [ch, cw] = hw(op.size);
        const p = op.padding ?? 0;
        if (!(Number.isInteger(p) && p >= 0)) {
          throw new StreamsError(
            'STREAMS_INVALID_ARGUMENT',
            `[streams/transforms] randomCrop padding must be a non-negative integer, got ${p}`,
          );
        }
        if (p > 0) {
          // Materialize the pixels so far, pad them, and continue on the padded image.
          segments.push(seg, { flop: false, pad: { size: p, fill: op.fill ?? 0 } });
          seg = { flop: false };
          w += 2 * p;
          h += 2 * p;
        }
        ensureAtLeast(ch, cw);
        const top = rng.int(h - ch + 1);
        const left = rng.int(w - cw + 1);
        crop({ left, top, width: cw, height: ch });
        break;
      }
      case 'randomResizedCrop': {
        const [th, tw] = hw(op.size);
        crop(randomResizedRect(w, h, op.scale ?? [0.08, 1], op.ratio ?? [3 / 4, 4 / 3], rng));
        resize(tw, th);
        break;
      }
      case 'horizontalFlip':
        if (rng.float() < (op.p ?? 0.5)) seg.flop = !seg.flop;
        break;
      case 'grayscale': {
        const p = op.p ?? 1;
        if (rng.float() < p)
          color.push({ kind: 'grayscale', channels: op.channels ?? (p >= 1 ? 1 : 3) });
        break;
      }
      case 'colorJitter': {
        if (op.p !== undefined && !(rng.float() < op.p)) break;
        const steps: ColorStep[] = [];
        for (const kind of ['brightness', 'contrast', 'saturation'] as const) {
          const x = op[kind];
          // A JS caller can pass anything: an object here would make NaN factors that silently do nothing.
          if (x !== undefined && !(typeof x === 'number' && Number.isFinite(x) && x >= 0)) {
            throw new StreamsError(
              'STREAMS_INVALID_ARGUMENT',
              `[streams/transforms] colorJitter ${kind} must be a number >= 0, got ${JSON.stringify(x)}`,
              {
                fix: `pass ${kind} as a non-negative number (factors are drawn in [1 - x, 1 + x])`,
              },
            );
          }
          if (x)
            steps.push({
              kind,
              factor: Math.max(0, 1 - x) + rng.float() * (1 + x - Math.max(0, 1 - x)),
            });
        }
        if (op.hue) {
          if (op.hue < 0 || op.hue > 0.5) {
            throw new StreamsError(
              'STREAMS_INVALID_ARGUMENT',
              `[streams/transforms] colorJitter hue must be in [0, 0.5], got ${op.hue}`,
            );
          }
          steps.push({ kind: 'hue', factor: -op.hue + rng.float() * 2 * op.hue });
        }
        rng.shuffle(steps); // torchvision applies the four adjustments in a random order
        color.push(...steps);
        break;
      }
      default:
        throw new StreamsError(
          'STREAMS_INVALID_ARGUMENT',
          `[streams/transforms] unknown image op ${JSON.stringify(op)}`,
          {
            fix: 'use resize, centerCrop, randomCrop, randomResizedCrop, horizontalFlip, grayscale or colorJitter',
          },
        );
    }
  }
  segments.push(seg);
  return { segments, color, width: w, height: h };
}

/** torchvision's RandomResizedCrop.get_params: 10 tries, then a centred crop with the ratio clamped. */
function randomResizedRect(
  w: number,
  h: number,
  scale: [number, number],
  ratio: [number, number],
  rng: Rng,
): Rect {
  const area = w * h;
  const logLo = Math.log(ratio[0]);
  const logHi = Math.log(ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * (scale[0] + rng.float() * (scale[1] - scale[0]));
    const aspect = Math.exp(logLo + rng.float() * (logHi - logLo));
    const cw = Math.round(Math.sqrt(target * aspect));
    const ch = Math.round(Math.sqrt(target / aspect));
    if (cw > 0 && ch > 0 && cw <= w && ch <= h) {
      return { top: rng.int(h - ch + 1), left: rng.int(w - cw + 1), width: cw, height: ch };
    }
  }
  const inRatio = w / h;
  let cw = w;
  let ch = h;
  if (inRatio < ratio[0]) ch = Math.round(w / ratio[0]);
  else if (inRatio > ratio[1]) cw = Math.round(h * ratio[1]);
  return { top: Math.floor((h - ch) / 2), left: Math.floor((w - cw) / 2), width: cw, height: ch };
}

/** Applies the colour steps in place on RGB (or gray) HWC bytes; returns the possibly reduced buffer and channels. */
export function applyColor(
  data: Uint8Array, // [h, w, 3]
  channels: number,
  steps: readonly ColorStep[],
): { data: Uint8Array; channels: number } {
  const n = data.length / channels;
  let out = data;
  let c = channels;
  for (const step of steps) {
    if (step.kind === 'grayscale') {
      if (c === 1) continue;
      const g = step.channels === 1 ? new Uint8Array(n) : out; // [h, w, 1] or in place
      for (let i = 0; i < n; i++) {
        const o = i * c;
        const l = luma(out[o]!, out[o + 1]!, out[o + 2]!);
        if (step.channels === 1) g[i] = l;
        else {
          g[o] = l;
          g[o + 1] = l;
          g[o + 2] = l;
        }
      }
      out = g;
      c = step.channels;
      continue;
    }
    if (step.kind === 'brightness') {
      blend(out, step.factor, () => 0);
    } else if (step.kind === 'contrast') {
      // Blend with the mean of the grayscale image (torchvision adjust_contrast).
      let sum = 0;
      if (c >= 3)
        for (let i = 0; i < n; i++) sum += luma(out[i * c]!, out[i * c + 1]!, out[i * c + 2]!);
      else for (let i = 0; i < n; i++) sum += out[i]!;
      const mean = sum / n;
      blend(out, step.factor, () => mean);
    } else if (step.kind === 'saturation') {
      if (c < 3) continue;
      for (let i = 0; i < n; i++) {
        const o = i * c;
        const l = luma(out[o]!, out[o + 1]!, out[o + 2]!);
        for (let k = 0; k < 3; k++)
          out[o + k] = clamp8(step.factor * out[o + k]! + (1 - step.factor) * l);
      }
    } else if (step.kind === 'hue') {
      if (c < 3) continue;
      shiftHue(out, c, step.factor);
    }
  }
  return { data: out, channels: c };
}

function blend(data: Uint8Array, factor: number, other: () => number): void {
  const o = other() * (1 - factor);
  for (let i = 0; i < data.length; i++) data[i] = clamp8(factor * data[i]! + o);
}

function luma(r: number, g: number, b: number): number {
  // PIL's L conversion: (r*299 + g*587 + b*114) / 1000, rounded.
  return Math.round((r * 299 + g * 587 + b * 114) / 1000);
}

function clamp8(x: number): number {
  return x <= 0 ? 0 : x >= 255 ? 255 : Math.round(x);
}

function shiftHue(data: Uint8Array, c: number, shift: number): void {
  const n = data.length / c;
  for (let i = 0; i < n; i++) {
    const o = i * c;
    const r = data[o]! / 255;
    const g = data[o + 1]! / 255;
    const b = data[o + 2]! / 255;
    const max = Math.max(r, g, b);
    const min = Math.min(r, g, b);
    const d = max - min;
    if (d === 0) continue; // gray pixels have no hue
    let hue: number;
    if (max === r) hue = ((g - b) / d) % 6;
    else if (max === g) hue = (b - r) / d + 2;
    else hue = (r - g) / d + 4;
    hue = (hue / 6 + shift + 2) % 1;
    const s = d / max;
    const v = max;
    const h6 = hue * 6;
    const k = Math.floor(h6);
    const f = h6 - k;
    const p = v * (1 - s);
    const q = v * (1 - s * f);
    const t = v * (1 - s * (1 - f));
    const [rr, gg, bb] = [
      [v, t, p],
      [q, v, p],
      [p, v, t],
      [p, q, v],
      [t, p, v],
      [v, p, q],
    ][k % 6]!;
    data[o] = clamp8(rr! * 255);
    data[o + 1] = clamp8(gg! * 255);
    data[o + 2] = clamp8(bb! * 255);
  }
}
