import { StreamsError } from '@streams/core';

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
