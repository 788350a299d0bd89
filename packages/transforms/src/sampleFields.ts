import { StreamsError } from '@streams/core';
import type { ImageInput } from './decodeImage.js';

/** A decoded sample as the dataset hands it over: raw bytes, or a record of columns / tar members. */
export type SampleInput = Uint8Array | Readonly<Record<string, unknown>>;

/** Finds the first field of `names` holding bytes (WebDataset members, MDS bytes columns). */
export function pickBytes(sample: SampleInput, names: readonly string[], what: string): Uint8Array {
  if (sample instanceof Uint8Array) return sample;
  for (const name of names) {
    const v = sample[name];
    if (v instanceof Uint8Array) return v;
    if (v instanceof ArrayBuffer) return new Uint8Array(v);
  }
  throw new StreamsError(
    'STREAMS_DECODE_FAILED',
    `[streams/transforms] the sample has no ${what} field (looked for ${names.join(', ')}; it has ${Object.keys(sample).join(', ') || 'no fields'})`,
    { fix: `name the field with the preset's field option` },
  );
}

const PIL_CHANNELS: Record<string, 1 | 2 | 3 | 4> = { L: 1, LA: 2, RGB: 3, RGBA: 4 };

/**
 * Finds the first image field of `names`: file bytes (WebDataset members, MDS `bytes` columns),
 * an encoded-image object `{ bytes }` (MDS `jpeg`/`png` columns as `@streams/index` decodes them),
 * or raw pixels `{ format: 'pil', mode, width, height, bytes }` (MDS `pil` columns).
 */
export function pickImage(sample: SampleInput, names: readonly string[]): ImageInput {
  if (!(sample instanceof Uint8Array)) {
    for (const name of names) {
      const v = sample[name] as
        | { bytes?: unknown; format?: unknown; mode?: unknown; width?: unknown; height?: unknown }
        | undefined;
      if (!v || typeof v !== 'object' || !(v.bytes instanceof Uint8Array)) continue;
      if (v.format !== 'pil') return v.bytes;
      const channels = PIL_CHANNELS[String(v.mode)];
      if (!channels) {
        throw new StreamsError(
          'STREAMS_UNSUPPORTED_ENCODING',
          `[streams/transforms] PIL mode ${String(v.mode)} is not supported`,
          {
            fix: 'store images as L, LA, RGB or RGBA, or as jpeg/png',
          },
        );
      }
      return { width: Number(v.width), height: Number(v.height), channels, data: v.bytes };
    }
  }
  return pickBytes(sample, names, 'image');
}

/** Reads an integer label from a number, bigint, or bytes holding decimal text (WebDataset `.cls`). */
export function pickLabel(sample: SampleInput, names: readonly string[]): number | undefined {
  if (sample instanceof Uint8Array) return undefined;
  for (const name of names) {
    const v = sample[name];
    if (typeof v === 'number') return v;
    if (typeof v === 'bigint') return Number(v);
    if (typeof v === 'string' && v.trim() !== '') return Number(v.trim());
    if (v instanceof Uint8Array) {
      const n = Number(new TextDecoder().decode(v).trim());
      if (Number.isFinite(n)) return n;
    }
  }
  return undefined;
}
