import { Readable } from 'node:stream';
import { isStreamsError, type Rng, redactUrl, StreamsError } from '@streams/core';
import { type AudioClip, type DecodeAudioOptions, decodeAudio } from './decodeAudio.js';
import type { SampleCoordinates } from './decodeGuard.js';
import { type DecodeImageOptions, decodeImage, type ImageTensor } from './decodeImage.js';
import { decodeMdsNdarray, decodeTensorBytes } from './decodeTensor.js';
import { selectCaption, type TokenizedText, type Tokenizer, tokenize } from './decodeText.js';
import { type DecodeVideoOptions, decodeVideo, type VideoClip } from './decodeVideo.js';
import type { ImageOp } from './imageOps.js';
import { layoutVideo, type VideoOutputOptions, type VideoTensor } from './layoutVideo.js';
import { probeMedia } from './probeMedia.js';
import { isRemoteMedia, type RangedReader } from './remoteMedia.js';
import type { MediaInput } from './runFfmpeg.js';
import { pickBytes, pickImage, pickLabel, type SampleInput } from './sampleFields.js';
import type { Tensor } from './tensor.js';

/** Call options of every preset. */
export interface PresetCallOptions {
  signal?: AbortSignal;
  coords?: SampleCoordinates;
  /**
   * The caller's reader of remote objects (`StreamingDataset` passes its fetch engine): a media
   * preset given no `reader` of its own reads a URL field through it, by ranges.
   */
  reader?: RangedReader;
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
  /** 3 (RGB, default) or 1 (grayscale datasets; give one mean/std value). */
  channels?: 1 | 3;
  /**
   * Fields searched for image bytes. Default `jpg, jpeg, png, webp, image, img`, then, when none
   * is there, the one field whose bytes are an image (JPEG, PNG, WebP, GIF, TIFF), whatever its
   * name: an index table's fetched `url` column, say.
   */
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
  if (options.colorJitter !== undefined && typeof options.colorJitter !== 'number') {
    throw new StreamsError(
      'STREAMS_INVALID_ARGUMENT',
      `[streams/transforms] imageClassification colorJitter must be a number, got ${JSON.stringify(options.colorJitter)}`,
      { fix: 'pass one strength for brightness, contrast and saturation, e.g. colorJitter: 0.4' },
    );
  }
  if (options.train && options.colorJitter) {
    const x = options.colorJitter;
    ops.push({ op: 'colorJitter', brightness: x, contrast: x, saturation: x });
  }
  const dtype = options.dtype ?? 'float32';
  const gray = options.channels === 1;
  return {
    ops,
    ...(gray ? { channels: 1 as const } : {}),
    output: {
      dtype,
      layout: options.layout ?? 'CHW',
      // Grayscale defaults: the mean of ImageNet's channel statistics.
      ...(dtype === 'float32' && options.mean !== null
        ? { mean: options.mean ?? (gray ? [0.449] : IMAGENET_MEAN) }
        : {}),
      ...(dtype === 'float32' && options.std !== null
        ? { std: options.std ?? (gray ? [0.226] : IMAGENET_STD) }
        : {}),
    },
  };
}

/** The fields an {@link imageClassification} preset reads. */
export function imageClassificationFields(options: ImageClassificationOptions = {}): {
  imageFields: readonly string[];
  labelFields: readonly string[];
  /** No `imageField` given: a sample with none of the default names is searched by content. */
  sniffImage: boolean;
} {
  return {
    sniffImage: options.imageField === undefined,
    imageFields: asList(options.imageField, ['jpg', 'jpeg', 'png', 'webp', 'image', 'img']),
    labelFields: asList(options.labelField, ['cls', 'label', 'target']),
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
  const { imageFields, labelFields, sniffImage } = imageClassificationFields(options);
  return async (sample, rng, call = {}) => {
    const bytes = pickImage(sample, imageFields, { sniff: sniffImage });
    // A forked generator: the caller's rng advances the same whether decoding runs here or in a pool.
    const image = await decodeImage(bytes, pipeline, rng.fork('image'), call);
    return { image, label: pickLabel(sample, labelFields) };
  };
}

/** Options of {@link videoClip}: the clip options plus where the video is in the sample. */
export interface VideoClipOptions extends DecodeVideoOptions {
  /** Fields searched for the video (bytes, a local path, `{ path, start, end }`, a URL or `{ url, reader }`). Default `mp4, webm, mkv, avi, mov, video`. */
  videoField?: string | readonly string[];
  /**
   * Reads fields holding a remote URL (`http(s)://`, `s3://`, `gs://`, ...) by ranges instead of
   * downloading them: pass the dataset's `FetchEngine` (`@streams/downloader`). ffmpeg then fetches
   * only the container index and the clip's bytes; `video.bytesRead` says how many.
   */
  reader?: RangedReader;
  /**
   * Also decode audio over the clip's time span (`T / fps` seconds from the clip's offset): the
   * video's own track, or with `audioField` a separate file of the same row (`wav`, `m4a`, ...; a
   * URL is read through `reader` too), cut at the same offset and duration. `optional: true` gives
   * `audio: undefined` for a video without sound or a row without the audio field instead of
   * failing the sample.
   */
  audio?: Omit<DecodeAudioOptions, 'offset' | 'duration'> & {
    optional?: boolean;
    audioField?: string | readonly string[];
  };
  /** Dtype, layout (`THWC`, `TCHW`, `CTHW`) and normalization of the clip. Default: uint8 `THWC`. */
  output?: VideoOutputOptions;
}

/** A clip after {@link layoutVideo}, with the decode details. */
export interface ClipTensor extends VideoTensor {
  fps: number | undefined;
  offset: number;
  decodedFrames: number;
  /** Bytes read by range requests, for a remote video. */
  bytesRead?: number;
}

/** The output of {@link videoClip}: `video.shape` is `[T, H, W, C]`; `audio` when asked for. */
export interface VideoClipSample {
  video: ClipTensor;
  audio?: AudioClip | undefined;
}

const VIDEO_FIELDS = ['mp4', 'webm', 'mkv', 'avi', 'mov', 'video'];
const AUDIO_FIELDS = ['wav', 'flac', 'mp3', 'ogg', 'opus', 'm4a', 'audio'];

/** A URL ffmpeg cannot open itself or that the caller wants read by ranges: `scheme://` but not `file://`. */
const REMOTE_URL = /^(?!file:)[a-z][a-z0-9+.-]*:\/\//i;

function pickMedia(
  sample: SampleInput,
  names: readonly string[],
  what: string,
  reader: RangedReader | undefined,
): MediaInput {
  if (sample instanceof Uint8Array) return sample;
  for (const name of names) {
    const v = sample[name];
    if (isRemoteMedia(v)) return v;
    if (typeof v === 'string' && REMOTE_URL.test(v)) {
      if (reader) return { url: v, reader };
      if (!/^https?:/i.test(v))
        throw new StreamsError(
          'STREAMS_INVALID_ARGUMENT',
          `[streams/transforms] the ${what} field "${name}" holds the URL ${redactUrl(v)}, and the preset has no reader for it`,
          {
            url: redactUrl(v),
            fix: "pass the preset a reader (the dataset's FetchEngine: reader: engine), or fetch the column (columnsToDownload)",
          },
        );
    }
    if (typeof v === 'string' && v !== '') return v;
    if (
      v &&
      typeof v === 'object' &&
      !(v instanceof Uint8Array) &&
      typeof (v as { path?: unknown }).path === 'string'
    ) {
      return v as { path: string; start?: number; end?: number };
    }
  }
  return pickBytes(sample, names, what);
}

/**
 * Video clips: `frames` frames at `fps` from a seeded random (or given) offset, resized, as
 * `[T, H, W, C]` uint8.
 *
 * @example
 * const prep = videoClip({ frames: 16, fps: 8, size: [112, 112], offset: 'random' });
 * const { video } = await prep({ mp4: bytes }, rng(seed, epoch, id)); // video.shape [16, 112, 112, 3]
 */
export function videoClip(options: VideoClipOptions): Preset<VideoClipSample> {
  return videoClipWith(options, inlineLayout);
}

async function inlineLayout(clip: VideoClip, output: VideoOutputOptions): Promise<ClipTensor> {
  return { ...clip, ...layoutVideo(clip.data, clip.shape, output) };
}

/** {@link videoClip} with the layout step supplied (inline, or in a pool's workers). */
export function videoClipWith(
  options: VideoClipOptions,
  lay: (clip: VideoClip, output: VideoOutputOptions) => Promise<ClipTensor>,
): Preset<VideoClipSample> {
  const fields = asList(options.videoField, VIDEO_FIELDS);
  const { videoField: _, audio: audioOptions, output, reader, ...clip } = options;
  const { optional, audioField, ...pcm } = audioOptions ?? {};
  const audioFields = audioField === undefined ? undefined : asList(audioField, []);
  return async (sample, rng, call = {}) => {
    const input = pickMedia(sample, fields, 'video', reader ?? call.reader);
    if (audioOptions && input instanceof Readable && (!audioFields || clip.fps === undefined)) {
      throw new StreamsError(
        'STREAMS_INVALID_ARGUMENT',
        '[streams/transforms] video and audio need two reads, and a stream can be read only once',
        {
          fix: 'pass bytes, a path or { path, start, end } when asking for the audio track',
        },
      );
    }
    let audioInput: MediaInput | undefined = input;
    try {
      // Before the video decode: a row without its audio file fails before any work.
      if (audioFields) audioInput = pickMedia(sample, audioFields, 'audio', reader ?? call.reader);
    } catch (err) {
      if (!(optional && isStreamsError(err, 'STREAMS_DECODE_FAILED'))) throw err;
      audioInput = undefined;
    }
    const decoded = await decodeVideo(input, clip, rng.fork('video'), call);
    const video = output ? await lay(decoded, output) : decoded;
    if (!audioOptions) return { video };
    if (!audioInput) return { video, audio: undefined };
    let fps = video.fps;
    if (fps === undefined) fps = (await probeMedia(input, call)).video?.fps ?? 25;
    const duration = video.shape[0]! / fps;
    try {
      const audio = await decodeAudio(
        audioInput,
        { ...pcm, offset: video.offset, duration },
        rng.fork('audio'),
        call,
      );
      return { video, audio };
    } catch (err) {
      if (optional && isStreamsError(err, 'STREAMS_DECODE_FAILED'))
        return { video, audio: undefined };
      throw err;
    }
  };
}

/** Options of {@link textToVideo}. */
export interface TextToVideoOptions extends VideoClipOptions {
  /** Caption fields, searched together (a random pick among all candidates). Default `caption, txt, text, json`. */
  captionFields?: readonly string[];
  /** Caption choice: `random` (seeded, default) or `first`. */
  captionStrategy?: 'random' | 'first';
  /** Optional tokenizer hook; with it the output has `tokens` padded to `maxLength`. */
  tokenizer?: Tokenizer;
  /** Token sequence length. Default 77. */
  maxLength?: number;
  /** Pad id for tokens. Default 0. */
  padId?: number;
}

/** The output of {@link textToVideo}. */
export interface TextToVideoSample {
  caption: string;
  tokens?: TokenizedText;
  video: ClipTensor;
  audio?: AudioClip | undefined;
}

/**
 * Text-to-video pairs: a caption chosen (seeded) among several fields, optionally tokenized, and a
 * video clip. A sample without any caption fails as `STREAMS_DECODE_FAILED`.
 */
export function textToVideo(options: TextToVideoOptions): Preset<TextToVideoSample> {
  return textToVideoWith(options, inlineLayout);
}

/** {@link textToVideo} with the clip layout step supplied (inline, or in a pool's workers). */
export function textToVideoWith(
  options: TextToVideoOptions,
  lay: (clip: VideoClip, output: VideoOutputOptions) => Promise<ClipTensor>,
): Preset<TextToVideoSample> {
  const audioOptions = options.audio;
  const fields = options.captionFields ?? ['caption', 'txt', 'text', 'json'];
  const {
    captionFields: _c,
    captionStrategy,
    tokenizer,
    maxLength,
    padId,
    ...videoOptions
  } = options;
  const clip = videoClipWith(videoOptions, lay);
  return async (sample, rng, call = {}) => {
    const captionRng = rng.fork('caption');
    const caption = selectCaption(sample, fields, captionRng, { strategy: captionStrategy });
    if (caption === undefined) {
      throw new StreamsError(
        'STREAMS_DECODE_FAILED',
        `[streams/transforms] the sample has no caption in ${fields.join(', ')}`,
        {
          ...call.coords,
          fix: 'set captionFields to the fields that hold captions',
        },
      );
    }
    const { video, audio } = await clip(sample, rng, call);
    const out: TextToVideoSample = { caption, video };
    if (audioOptions) out.audio = audio;
    if (tokenizer)
      out.tokens = await tokenize(caption, tokenizer, { maxLength: maxLength ?? 77, padId });
    return out;
  };
}

/** Options of {@link audioClip}. */
export interface AudioClipOptions extends DecodeAudioOptions {
  /** Fields searched for the audio (bytes, a path, `{ path, start, end }`, a URL or `{ url, reader }`). Default `wav, flac, mp3, ogg, opus, m4a, audio`, then video fields. */
  audioField?: string | readonly string[];
  /** Reads fields holding a remote URL by ranges (see {@link VideoClipOptions.reader}). */
  reader?: RangedReader;
  /** Fields searched for the label. Default `cls, label, target`. */
  labelField?: string | readonly string[];
}

/** The output of {@link audioClip}: `audio.shape` is `[C, T]` (or `[T, C]`). */
export interface AudioClipSample {
  audio: AudioClip;
  label: number | undefined;
}

/**
 * Fixed-length audio clips: float32 PCM at `sampleRate` and `channels`, `duration` seconds from a
 * seeded random (or given) offset, from audio files or a video's audio track.
 *
 * @example
 * const prep = audioClip({ sampleRate: 16000, duration: 2, offset: 'random' });
 * const { audio } = await prep({ flac: bytes }, rng(seed, id)); // audio.shape [1, 32000]
 */
export function audioClip(options: AudioClipOptions = {}): Preset<AudioClipSample> {
  const fields = asList(options.audioField, [...AUDIO_FIELDS, ...VIDEO_FIELDS]);
  const labels = asList(options.labelField, ['cls', 'label', 'target']);
  const { audioField: _a, labelField: _l, reader, ...decode } = options;
  return async (sample, rng, call = {}) => {
    const input = pickMedia(sample, fields, 'audio', reader ?? call.reader);
    const audio = await decodeAudio(input, decode, rng.fork('audio'), call);
    return { audio, label: pickLabel(sample, labels) };
  };
}

/** Options of {@link tensors}. */
export interface TensorsOptions {
  /**
   * Output name -> sample field. A field may hold `.npy` or `.safetensors` bytes, an MDS `ndarray`
   * value already decoded by `@streams/index` (`{ data, shape, dtype }`), or raw MDS ndarray bytes
   * (then give `encodings`).
   */
  fields: Readonly<Record<string, string>>;
  /** Field -> MDS encoding (`ndarray:float32:4,32,32`) for raw MDS ndarray bytes. */
  encodings?: Readonly<Record<string, string>>;
  /** Field -> tensor name inside a multi-tensor `.safetensors` file. */
  names?: Readonly<Record<string, string>>;
}

/**
 * Precomputed tensors (latents, embeddings): each output is a typed array with dtype and shape.
 *
 * @example
 * const prep = tensors({ fields: { latent: 'latent.npy', text: 'emb' }, encodings: { emb: 'ndarray:float16:77,768' } });
 */
export function tensors(options: TensorsOptions): Preset<Record<string, Tensor>> {
  return async (sample) => {
    const out: Record<string, Tensor> = {};
    for (const [key, field] of Object.entries(options.fields)) {
      const v = sample instanceof Uint8Array ? sample : sample[field];
      if (v && typeof v === 'object' && !(v instanceof Uint8Array) && 'shape' in v && 'data' in v) {
        out[key] = v as Tensor;
        continue;
      }
      const bytes = pickBytes(sample, [field], `tensor ${key}`);
      const encoding = options.encodings?.[field];
      out[key] = encoding
        ? decodeMdsNdarray(bytes, encoding)
        : decodeTensorBytes(bytes, { name: options.names?.[field] });
    }
    return out;
  };
}

/** Options of {@link text}. */
export interface TextOptions {
  /** Fields holding text (strings, UTF-8 bytes, lists, JSON lists). Default `txt, text, caption, json`. */
  fields?: readonly string[];
  /** `random` (seeded, default) among all candidates, or `first`. */
  strategy?: 'random' | 'first';
  /** Optional tokenizer hook; with it the output has `tokens` padded to `maxLength`. */
  tokenizer?: Tokenizer;
  /** Token sequence length. Default 128. */
  maxLength?: number;
  padId?: number;
}

/** The output of {@link text}. */
export interface TextSample {
  text: string;
  tokens?: TokenizedText;
}

/**
 * Text samples: UTF-8 decoding, a seeded choice among several fields, and an optional tokenizer.
 * A sample without text fails as `STREAMS_DECODE_FAILED`.
 */
export function text(options: TextOptions = {}): Preset<TextSample> {
  const fields = options.fields ?? ['txt', 'text', 'caption', 'json'];
  return async (sample, rng, call = {}) => {
    const chosen = selectCaption(sample, fields, rng.fork('text'), { strategy: options.strategy });
    if (chosen === undefined) {
      throw new StreamsError(
        'STREAMS_DECODE_FAILED',
        `[streams/transforms] the sample has no text in ${fields.join(', ')}`,
        {
          ...call.coords,
          fix: 'set fields to the fields that hold the text',
        },
      );
    }
    const out: TextSample = { text: chosen };
    if (options.tokenizer) {
      out.tokens = await tokenize(chosen, options.tokenizer, {
        maxLength: options.maxLength ?? 128,
        padId: options.padId,
      });
    }
    return out;
  };
}
