import { StreamsError, type TypedArray } from '@streams/core';
import { SEQUENCE_TASKS, type SequenceSource } from '../sequenceSource.js';
import type { StreamingDataset } from '../streamingDataset.js';
import { decodeTextTokens, textTokenCount } from './textFiles.js';
import { decodeVideoFrames, frameShape, type VideoFrameOptions, videoFrameCount } from './video.js';

/** Options of {@link streamingDatasetSequences}. */
export type StreamingSequenceOptions = {
  /** The column holding each sequence. */
  field: string;
  /** A column holding each sequence's length in items (saves decoding every sample to plan). */
  lengthField?: string;
} & (
  | { kind: 'video'; video: VideoFrameOptions }
  | {
      kind: 'tokens';
      /** Text columns: how to tokenize (see textFileSequences); arrays are taken as tokens. */
      text?: Parameters<typeof decodeTextTokens>[2];
    }
);

/**
 * The samples of a `StreamingDataset` (any shard format it reads: MDS today, more as it grows) as
 * sequences: each sample's `field` is one video (encoded bytes) or one token array (an ndarray,
 * a typed or number array, or text). Sample i is global sample i of the dataset (`ds.get(i)`).
 */
export function streamingDatasetSequences(
  ds: StreamingDataset,
  options: StreamingSequenceOptions,
): SequenceSource<unknown> {
  const size = ds.plan().streamOffsets.at(-1) ?? 0;
  const field = async (i: number, name: string, signal?: AbortSignal) => {
    const sample = (await ds.get(i, { signal })) as Record<string, unknown>;
    if (!(name in sample)) {
      throw new StreamsError(
        'STREAMS_INVALID_ARGUMENT',
        `[streams/multistream] sample ${i} has no column "${name}" (columns: ${Object.keys(sample).join(', ')})`,
        { sample: i, fix: 'name the column that holds the sequences' },
      );
    }
    return sample[name];
  };
  const tokens = (raw: unknown, length: number): Int32Array => {
    if (typeof raw === 'string')
      return decodeTextTokens(raw, length, options.kind === 'tokens' ? options.text : {});
    const data =
      raw && typeof raw === 'object' && 'data' in raw ? (raw as { data: unknown }).data : raw;
    if (ArrayBuffer.isView(data) || Array.isArray(data))
      return Int32Array.from(data as ArrayLike<number>).subarray(0, length);
    throw new StreamsError(
      'STREAMS_DECODE_FAILED',
      `[streams/multistream] column "${options.field}" holds no tokens (a ${typeof raw})`,
      { fix: 'store token arrays, ndarrays or text in that column' },
    );
  };
  const video = options.kind === 'video' ? options.video : undefined;
  return {
    name: `${options.field} of a StreamingDataset`,
    size,
    itemShape: video ? frameShape(video) : [],
    dtype: video ? 'uint8' : 'int32',
    async lengths({ signal } = {}) {
      const out = new Uint32Array(size); // [sequences]
      for (let i = 0; i < size; i++) {
        if (options.lengthField) out[i] = Number(await field(i, options.lengthField, signal));
        else {
          const raw = await field(i, options.field, signal);
          out[i] = video
            ? await videoFrameCount(raw as Uint8Array, `sample ${i}`)
            : typeof raw === 'string'
              ? textTokenCount(raw, options.kind === 'tokens' ? options.text?.tokens : undefined)
              : tokens(raw, Number.MAX_SAFE_INTEGER).length;
        }
      }
      return out;
    },
    fetch: (i, o) => field(i, options.field, o?.signal),
    decode: async (raw, length): Promise<TypedArray> =>
      video ? decodeVideoFrames(raw as Uint8Array, length, video) : tokens(raw, length),
    ...(video
      ? {
          decoder: {
            module: SEQUENCE_TASKS,
            name: 'decodeVideoFrames',
            args: [video],
          },
        }
      : {}),
  };
}
