import { readFile } from 'node:fs/promises';
import type { TypedArray } from '@streams/core';
import { SEQUENCE_TASKS, type SequenceSource } from '../sequenceSource.js';

/** How text becomes tokens: UTF-8 `bytes`, or whitespace-separated `words` numbered by a vocabulary. */
export type TextTokens = 'bytes' | 'words';

/** Options of {@link textFileSequences}. */
export interface TextFileOptions {
  /** Default `words`. */
  tokens?: TextTokens;
  /** With `words`: the vocabulary (word -> id); unknown words get `unknown` (default -1). */
  vocabulary?: Record<string, number>;
  unknown?: number;
}

/** Tokenizes one text (exported for worker threads): `[length]` int32. */
export function decodeTextTokens(
  text: string,
  length: number,
  options: TextFileOptions = {},
): Int32Array {
  if ((options.tokens ?? 'words') === 'bytes') {
    return Int32Array.from(new TextEncoder().encode(text).subarray(0, length));
  }
  const words = text.split(/\s+/).filter((w) => w.length > 0);
  const vocab = options.vocabulary ?? {};
  const out = new Int32Array(length); // [length]
  for (let i = 0; i < length; i++) out[i] = vocab[words[i]!] ?? options.unknown ?? -1;
  return out;
}

/** Tokens in a text under the given tokenization. */
export function textTokenCount(text: string, tokens: TextTokens = 'words'): number {
  return tokens === 'bytes'
    ? Buffer.byteLength(text)
    : text.split(/\s+/).filter((w) => w.length > 0).length;
}

/** Text files as token sequences (one file = one sequence), tokenized in worker threads when asked. */
export function textFileSequences(
  paths: readonly string[],
  options: TextFileOptions = {},
): SequenceSource<string> {
  const tokens = options.tokens ?? 'words';
  return {
    name: 'text files',
    size: paths.length,
    itemShape: [],
    dtype: 'int32',
    async lengths() {
      const out = new Uint32Array(paths.length); // [sequences]
      for (const [i, p] of paths.entries())
        out[i] = textTokenCount(await readFile(p, 'utf8'), tokens);
      return out;
    },
    fetch: (i) => readFile(paths[i]!, 'utf8'),
    decode: async (text, length): Promise<TypedArray> => decodeTextTokens(text, length, options),
    decoder: {
      module: SEQUENCE_TASKS,
      name: 'decodeTextTokens',
      args: [options],
    },
  };
}
