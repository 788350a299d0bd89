import { readdir } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { StreamsError, type TypedArray } from '@streams/core';
import { SEQUENCE_TASKS, type SequenceSource } from '../sequenceSource.js';
import { decodeVideoFrames, frameShape, type VideoFrameOptions, videoFrameCount } from './video.js';

const VIDEO_EXTENSIONS = new Set(['.mp4', '.mkv', '.webm', '.mov', '.avi', '.m4v']);

/** A directory of video clips (sorted by name), one clip = one sequence of `[H, W, C]` uint8 frames. */
export async function videoDirectorySequences(
  dir: string,
  options: VideoFrameOptions,
): Promise<SequenceSource<string>> {
  const files = (await readdir(dir))
    .filter((f) => VIDEO_EXTENSIONS.has(extname(f).toLowerCase()))
    .sort();
  if (files.length === 0) {
    throw new StreamsError(
      'STREAMS_INVALID_ARGUMENT',
      `[streams/multistream] ${dir} holds no video clips (${[...VIDEO_EXTENSIONS].join(', ')})`,
      { fix: 'point videoDirectorySequences at a directory of clips' },
    );
  }
  const paths = files.map((f) => join(dir, f));
  return {
    name: dir,
    size: paths.length,
    itemShape: frameShape(options),
    dtype: 'uint8',
    async lengths() {
      const out = new Uint32Array(paths.length); // [clips]
      for (const [i, p] of paths.entries()) out[i] = await videoFrameCount(p, p);
      return out;
    },
    fetch: async (i) => paths[i]!,
    decode: (path, length): Promise<TypedArray> => decodeVideoFrames(path, length, options),
    decoder: {
      module: SEQUENCE_TASKS,
      name: 'decodeVideoFrames',
      args: [options],
    },
  };
}
