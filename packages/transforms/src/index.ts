export {
  type AudioClip,
  type DecodeAudioOptions,
  decodeAudio,
} from './decodeAudio.js';
export {
  type DecodeCounts,
  DecodeGuard,
  type DecodeGuardOptions,
  type DecodePolicy,
  decodeFailed,
  guarded,
  type SampleCoordinates,
} from './decodeGuard.js';
export {
  type DecodeCallOptions,
  type DecodeImageOptions,
  decodeImage,
  headerSize,
  type ImageInput,
  type ImageOutputOptions,
  type ImageTensor,
  layoutImage,
  type RawImage,
} from './decodeImage.js';
export {
  decodeMdsNdarray,
  decodeNpy,
  decodeSafetensors,
  decodeTensorBytes,
  float16ToFloat32,
  type SafetensorsFile,
  typedArrayFrom,
} from './decodeTensor.js';
export {
  type CaptionOptions,
  decodeText,
  selectCaption,
  type TokenizedText,
  type Tokenizer,
  tokenize,
} from './decodeText.js';
export {
  type DecodeVideoOptions,
  decodeVideo,
  type MediaCallOptions,
  type VideoClip,
} from './decodeVideo.js';
export { transformsEvents } from './events.js';
export {
  type BinaryInfo,
  ffmpegInfo,
  ffprobeInfo,
  type ResolveOptions,
  resolveFfmpeg,
  resolveFfprobe,
} from './ffmpegInfo.js';
export { type ImageOp, type ImagePlan, planImage, type Size } from './imageOps.js';
export { layoutVideo, type VideoOutputOptions, type VideoTensor } from './layoutVideo.js';
export { configureTransforms, ffmpegLimiter, Limiter, sharpLimiter } from './limiter.js';
export {
  type AudioClipOptions,
  type AudioClipSample,
  audioClip,
  type ClipTensor,
  IMAGENET_MEAN,
  IMAGENET_STD,
  type ImageClassificationOptions,
  type ImageClassificationSample,
  imageClassification,
  imageClassificationFields,
  imageClassificationPipeline,
  type Preset,
  type PresetCallOptions,
  type TensorsOptions,
  type TextOptions,
  type TextSample,
  type TextToVideoOptions,
  type TextToVideoSample,
  tensors,
  text,
  textToVideo,
  textToVideoWith,
  type VideoClipOptions,
  type VideoClipSample,
  videoClip,
  videoClipWith,
} from './presets.js';
export { type MediaInfo, type ProbeOptions, parseFfmpegInfo, probeMedia } from './probeMedia.js';
export { isRemoteMedia, type RangedReader, type RemoteMedia } from './remoteMedia.js';
export { activeFfmpegPids, type MediaInput } from './runFfmpeg.js';
export { pickBytes, pickImage, pickLabel, type SampleInput } from './sampleFields.js';
export { DTYPE_BYTES, type DType, shapeSize, type Tensor, type TypedArray } from './tensor.js';
export { collectTransferables } from './transferables.js';
export {
  type PoolRunOptions,
  type PoolStats,
  TransformPool,
  type TransformPoolOptions,
} from './transformPool.js';
