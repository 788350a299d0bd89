export {
  type DecodeCounts,
  DecodeGuard,
  type DecodeGuardOptions,
  type DecodePolicy,
  decodeFailed,
  type SampleCoordinates,
} from './decodeGuard.js';
export {
  type DecodeCallOptions,
  type DecodeImageOptions,
  decodeImage,
  type ImageOutputOptions,
  type ImageTensor,
  layoutImage,
} from './decodeImage.js';
export { transformsEvents } from './events.js';
export { type ImageOp, type ImagePlan, planImage, type Size } from './imageOps.js';
export { configureTransforms, ffmpegLimiter, Limiter, sharpLimiter } from './limiter.js';
export {
  IMAGENET_MEAN,
  IMAGENET_STD,
  type ImageClassificationOptions,
  type ImageClassificationSample,
  imageClassification,
  imageClassificationPipeline,
  type Preset,
  type PresetCallOptions,
} from './presets.js';
export { pickBytes, pickLabel, type SampleInput } from './sampleFields.js';
export { DTYPE_BYTES, type DType, shapeSize, type Tensor, type TypedArray } from './tensor.js';
