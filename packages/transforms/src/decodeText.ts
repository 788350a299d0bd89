import { type Rng, StreamsError } from '@streams/core';
import type { SampleInput } from './sampleFields.js';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
const lenient = new TextDecoder('utf-8', { fatal: false, ignoreBOM: false });

/** Decodes UTF-8 (a leading BOM is dropped). Invalid bytes fail with `STREAMS_DECODE_FAILED` unless `lenient` (then U+FFFD). */
export function decodeText(bytes: Uint8Array, options: { lenient?: boolean } = {}): string {
  if (options.lenient) return lenient.decode(bytes);
  try {
    return utf8.decode(bytes);
  } catch (cause) {
    throw new StreamsError(
      'STREAMS_DECODE_FAILED',
      '[streams/transforms] text is not valid UTF-8',
      {
        cause,
        fix: 'store text as UTF-8, or pass { lenient: true } to replace bad bytes',
      },
    );
  }
}

/** Turns text into token ids (a BPE, a SentencePiece binding, a lookup table...). */
export type Tokenizer = (text: string) => ArrayLike<number> | Promise<ArrayLike<number>>;

/** Options of {@link selectCaption}. */
export interface CaptionOptions {
  /** `random` (seeded, default) picks uniformly among the non-empty candidates; `first` takes the first. */
  strategy?: 'random' | 'first';
}

/** Candidate captions of one field: a string, UTF-8 bytes, a list of either, or JSON text of a list. */
function candidates(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (typeof value === 'string') {
    const t = value.trim();
    if (t.startsWith('[')) {
      try {
        const parsed: unknown = JSON.parse(t);
        if (Array.isArray(parsed)) return parsed.flatMap(candidates);
      } catch {
        // not JSON: a caption that starts with a bracket
      }
    }
    return t === '' ? [] : [t];
  }
  if (value instanceof Uint8Array) return candidates(decodeText(value, { lenient: true }));
  if (Array.isArray(value)) return value.flatMap(candidates);
  return [];
}

/**
 * Picks one caption from several fields (e.g. `['caption', 'txt', 'alt_text']`), each of which may
 * hold several captions. The choice is drawn from `rng`, so it is reproducible. `undefined` when
 * every field is empty.
 */
export function selectCaption(
  sample: SampleInput,
  fields: readonly string[],
  rng: Rng,
  options: CaptionOptions = {},
): string | undefined {
  if (sample instanceof Uint8Array) return candidates(sample)[0];
  const all = fields.flatMap((f) => candidates(sample[f]));
  if (all.length === 0) return undefined;
  return options.strategy === 'first' ? all[0] : all[rng.int(all.length)];
}

/** Token ids padded or truncated to `maxLength`, with a mask of real tokens. */
export interface TokenizedText {
  ids: Int32Array; // [maxLength]
  mask: Uint8Array; // [maxLength], 1 for real tokens
  length: number;
}

/** Runs `tokenizer` and pads (with `padId`, default 0) or truncates to `maxLength`. */
export async function tokenize(
  text: string,
  tokenizer: Tokenizer,
  options: { maxLength: number; padId?: number },
): Promise<TokenizedText> {
  const raw = await tokenizer(text);
  const L = options.maxLength;
  const ids = new Int32Array(L).fill(options.padId ?? 0); // [L]
  const mask = new Uint8Array(L); // [L]
  const n = Math.min(L, raw.length);
  for (let i = 0; i < n; i++) {
    ids[i] = raw[i]!;
    mask[i] = 1;
  }
  return { ids, mask, length: n };
}
