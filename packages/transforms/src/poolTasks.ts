// Built-in tasks run inside TransformPool workers. Arguments and results are plain data.
import { Rng } from '@streams/core';
import {
  type DecodeImageOptions,
  decodeImage,
  type ImageInput,
  type ImageTensor,
} from './decodeImage.js';
import { layoutVideo, type VideoOutputOptions, type VideoTensor } from './layoutVideo.js';

/** Decodes one image inside a worker; `rngState` is the caller's generator state. */
export function image(
  bytes: ImageInput,
  options: DecodeImageOptions,
  rngState: [number, number, number, number],
): Promise<ImageTensor> {
  return decodeImage(bytes, options, Rng.fromState(rngState));
}

/** Lays out a decoded clip inside a worker (the clip's buffer arrives transferred). */
export function video(data: Uint8Array, shape: number[], output: VideoOutputOptions): VideoTensor {
  return layoutVideo(data, shape, output);
}
