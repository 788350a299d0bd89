// What the coherent loader reads: a dataset of sequences (videos, texts, token arrays). A source
// is one plug-in file under sequenceSources/; every source passes test/sequenceSourceSuite.ts.
import type { Dtype, TypedArray } from '@streams/core';

/**
 * A sequence decoder that worker threads can run: the exported function `name` of the ES module
 * at `module` (a file URL), called as `fn(raw, length, ...args)` with plain data and returning
 * the sequence as one typed array `[length, ...itemShape]`.
 */
export interface SequenceDecoder {
  module: string;
  name: string;
  args: unknown[];
}

/**
 * A dataset of sequences for {@link CoherentLoader}. Fetching (I/O: a path, bytes from a shard,
 * text) happens in the loader's thread; decoding (ffmpeg, tokenizing) may run in worker threads
 * through `decoder`. A sequence is always decoded whole, by one worker, so its items stay in order.
 */
export interface SequenceSource<Raw = unknown> {
  /** Used in messages. */
  readonly name: string;
  /** Number of sequences. */
  readonly size: number;
  /** Shape of one item: `[H, W, C]` for video frames, `[]` for tokens. */
  readonly itemShape: readonly number[];
  /** Element type of the decoded items. */
  readonly dtype: Dtype;
  /** Items in each sequence, known before any is decoded (planning needs them). */
  lengths(options?: { signal?: AbortSignal }): Promise<ArrayLike<number>>;
  /** The raw form of sequence `i` (cheap: a path, bytes, a string). */
  fetch(i: number, options?: { signal?: AbortSignal }): Promise<Raw>;
  /** Decodes a raw sequence of `length` items in this thread: `[length, ...itemShape]`. */
  decode(raw: Raw, length: number, options?: { signal?: AbortSignal }): Promise<TypedArray>;
  /** The same decoding as a module export, so that worker threads can run it; absent: decoded inline. */
  readonly decoder?: SequenceDecoder;
}

/** The module worker threads import for the built-in decoders (`.ts` when running from sources). */
export const SEQUENCE_TASKS = new URL(
  `./sequenceTasks${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`,
  import.meta.url,
).href;
