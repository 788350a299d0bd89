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
 * or raw pixels `{ format: 'pil', mode, width, height, bytes }` (MDS `pil` columns). With `sniff`,
 * a sample with none of `names` gives the one field whose bytes are an image file, whatever its
 * name (an index table's fetched `url` column, a converted dataset's `thumbnail_url`).
 */
export function pickImage(
  sample: SampleInput,
  names: readonly string[],
  options: { sniff?: boolean } = {},
): ImageInput {
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
  if (options.sniff && !(sample instanceof Uint8Array) && !names.some((n) => n in sample)) {
    const found = imageFieldsByContent(sample);
    if (found.length === 1) return found[0]!.bytes;
    if (found.length > 1)
      throw new StreamsError(
        'STREAMS_DECODE_FAILED',
        `[streams/transforms] the sample has no image field named ${names.join(', ')}, and several fields hold images (${found.map((f) => f.name).join(', ')})`,
        { fix: `choose one with the preset's imageField option (imageField: '${found[0]!.name}')` },
      );
  }
  return pickBytes(sample, names, 'image');
}

/** The fields of `sample` whose bytes (or `{ bytes }` of an encoded image) start like an image file. */
function imageFieldsByContent(
  sample: Readonly<Record<string, unknown>>,
): { name: string; bytes: Uint8Array }[] {
  const found: { name: string; bytes: Uint8Array }[] = [];
  for (const [name, v] of Object.entries(sample)) {
    const bytes =
      v instanceof Uint8Array
        ? v
        : v && typeof v === 'object' && (v as { format?: unknown }).format !== 'pil'
          ? (v as { bytes?: unknown }).bytes
          : undefined;
    if (bytes instanceof Uint8Array && isImageFile(bytes)) found.push({ name, bytes });
  }
  return found;
}

const ascii = (b: Uint8Array, at: number, s: string) => {
  for (let i = 0; i < s.length; i++) if (b[at + i] !== s.charCodeAt(i)) return false;
  return true;
};

/** True when `b` starts with the signature of an image format sharp decodes. */
function isImageFile(b: Uint8Array): boolean {
  if (b.length < 12) return false;
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return true; // JPEG
  if (b[0] === 0x89 && ascii(b, 1, 'PNG\r\n\x1a\n')) return true; // PNG
  if (ascii(b, 0, 'RIFF') && ascii(b, 8, 'WEBP')) return true; // WebP
  if (ascii(b, 0, 'GIF87a') || ascii(b, 0, 'GIF89a')) return true; // GIF
  return ascii(b, 0, 'II*\0') || ascii(b, 0, 'MM\0*'); // TIFF
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
