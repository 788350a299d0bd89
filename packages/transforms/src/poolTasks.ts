// Built-in tasks run inside TransformPool workers. Arguments and results are plain data.
import { Rng } from '@streams/core';
import {
  type DecodeImageOptions,
  decodeImage,
  type ImageInput,
  type ImageTensor,
} from './decodeImage.js';

/** Decodes one image inside a worker; `rngState` is the caller's generator state. */
export function image(
  bytes: ImageInput,
  options: DecodeImageOptions,
  rngState: [number, number, number, number],
): Promise<ImageTensor> {
  return decodeImage(bytes, options, Rng.fromState(rngState));
}
