import type { TypedArray } from '@streams/core';
import type { SequenceSource } from '../sequenceSource.js';

/** Sequences of tokens already in memory (one Int32Array per sequence): `[length]` int32. */
export function tokenSequences(
  sequences: readonly Int32Array[],
  options: { name?: string } = {},
): SequenceSource<Int32Array> {
  return {
    name: options.name ?? 'tokens',
    size: sequences.length,
    itemShape: [],
    dtype: 'int32',
    lengths: async () => Uint32Array.from(sequences, (s) => s.length),
    fetch: async (i) => sequences[i]!,
    decode: async (raw): Promise<TypedArray> => raw,
  };
}
