import type { Rng } from '@streams/core';
import type { SampleCoordinates } from './decodeGuard.js';
import { type DecodeImageOptions, decodeImage, type ImageTensor } from './decodeImage.js';
import type { ImageOp } from './imageOps.js';
import { pickBytes, pickLabel, type SampleInput } from './sampleFields.js';

/** Call options of every preset. */
export interface PresetCallOptions {
  signal?: AbortSignal;
  coords?: SampleCoordinates;
}

/** A preset: a pure async function of (sample, rng) that turns sample bytes into model inputs. */
export type Preset<Out> = (
  sample: SampleInput,
  rng: Rng,
  options?: PresetCallOptions,
) => Promise<Out>;

/** ImageNet channel statistics (RGB), the default normalization of {@link imageClassification}. */
export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

/** Options of {@link imageClassification}. */
export interface ImageClassificationOptions {
  /** Output side (square). Default 224. */
  size?: number;
  /** Eval: resize the shorter side to this, then center-crop `size`. Default `round(size / 0.875)` (256 for 224). */
  resize?: number;
  /** Train: random resized crop + random flip instead of resize + center crop. Default false. */
  train?: boolean;
  /** Train: add colour jitter of this strength (brightness, contrast, saturation). */
  colorJitter?: number;
  /** Default ImageNet statistics; `null` keeps 0..1 floats. */
  mean?: readonly number[] | null;
  std?: readonly number[] | null;
  /** Default `CHW`. */
  layout?: 'HWC' | 'CHW';
  /** Default `float32`. */
  dtype?: 'uint8' | 'float32';
  /** Fields searched for image bytes. Default `jpg, jpeg, png, webp, image, img`. */
  imageField?: string | readonly string[];
  /** Fields searched for the label. Default `cls, label, target`. */
  labelField?: string | readonly string[];
}

/** The output of {@link imageClassification}: `image.shape` is `[3, size, size]` for CHW. */
export interface ImageClassificationSample {
  image: ImageTensor;
  label: number | undefined;
}

const asList = (v: string | readonly string[] | undefined, dflt: readonly string[]) =>
  v === undefined ? dflt : typeof v === 'string' ? [v] : v;

/** The image pipeline (ops and output) an {@link imageClassification} preset runs; plain data for workers. */
export function imageClassificationPipeline(
  options: ImageClassificationOptions = {},
): DecodeImageOptions {
  const size = options.size ?? 224;
  const ops: ImageOp[] = options.train
    ? [
        { op: 'randomResizedCrop', size },
        { op: 'horizontalFlip', p: 0.5 },
      ]
    : [
        { op: 'resize', size: options.resize ?? Math.round(size / 0.875) },
        { op: 'centerCrop', size },
      ];
  if (options.train && options.colorJitter) {
    const x = options.colorJitter;
    ops.push({ op: 'colorJitter', brightness: x, contrast: x, saturation: x });
  }
  const dtype = options.dtype ?? 'float32';
  return {
    ops,
    output: {
      dtype,
      layout: options.layout ?? 'CHW',
      ...(dtype === 'float32' && options.mean !== null
        ? { mean: options.mean ?? IMAGENET_MEAN }
        : {}),
      ...(dtype === 'float32' && options.std !== null ? { std: options.std ?? IMAGENET_STD } : {}),
    },
  };
}

/**
 * Image classification: bytes -> `[3, 224, 224]` normalized float32 (eval: resize 256 + center
 * crop; train: random resized crop + flip) and the integer label.
 *
 * @example
 * const prep = imageClassification({ train: true });
 * const { image, label } = await prep({ jpg: bytes, cls: 3 }, rng(seed, epoch, sampleId));
 */
export function imageClassification(
  options: ImageClassificationOptions = {},
): Preset<ImageClassificationSample> {
  const pipeline = imageClassificationPipeline(options);
  const imageFields = asList(options.imageField, ['jpg', 'jpeg', 'png', 'webp', 'image', 'img']);
  const labelFields = asList(options.labelField, ['cls', 'label', 'target']);
  return async (sample, rng, call = {}) => {
    const bytes = pickBytes(sample, imageFields, 'image');
    const image = await decodeImage(bytes, pipeline, rng, call);
    return { image, label: pickLabel(sample, labelFields) };
  };
}
