import { type Rng, StreamsError, throwIfAborted } from '@streams/core';
import { decodeFailed } from './decodeGuard.js';
import type { MediaCallOptions } from './decodeVideo.js';
import { probeMedia } from './probeMedia.js';
import { withRemoteMedia } from './remoteMedia.js';
import { checkRandomOffsetInput, describeInput, type MediaInput, runFfmpeg } from './runFfmpeg.js';
import type { Tensor } from './tensor.js';

/** Options of {@link decodeAudio}. Plain data. */
export interface DecodeAudioOptions {
  /** Target sample rate in Hz. Default 16000. */
  sampleRate?: number;
  /** Target channel count (ffmpeg down/up-mixes). Default 1. */
  channels?: number;
  /** Clip length in seconds: the output is exactly `round(duration * sampleRate)` frames, zero-padded. Default: the whole input. */
  duration?: number;
  /** Start in seconds, or `random` (uniform over starts that fit the clip). Default 0. */
  offset?: number | 'random';
  /** `CT` (planar `[channels, samples]`, default) or `TC` (interleaved `[samples, channels]`). */
  layout?: 'CT' | 'TC';
}

/** Decoded PCM in [-1, 1]. */
export interface AudioClip extends Tensor<Float32Array> {
  dtype: 'float32';
  sampleRate: number;
  layout: 'CT' | 'TC';
  offset: number;
  /** Samples per channel that came from the input (the rest are zero padding). */
  decodedSamples: number;
  /** For a remote input ({@link RemoteMedia}): bytes read by range requests, probe included. */
  bytesRead?: number;
}

/**
 * Decodes audio (wav, mp3, flac, ogg, or the audio track of a video container) to float32 PCM at
 * the target rate and channel count, optionally a fixed-length clip from a given or random offset.
 */
export async function decodeAudio(
  input: MediaInput,
  options: DecodeAudioOptions,
  rng: Rng,
  call: MediaCallOptions = {},
): Promise<AudioClip> {
  const { signal, coords } = call;
  const rate = options.sampleRate ?? 16000;
  const C = options.channels ?? 1;
  if (!(Number.isInteger(rate) && rate > 0 && Number.isInteger(C) && C > 0)) {
    throw new StreamsError(
      'STREAMS_INVALID_ARGUMENT',
      `[streams/transforms] bad audio sampleRate ${rate} or channels ${C}`,
    );
  }
  throwIfAborted(signal);
  if (input instanceof Uint8Array && input.byteLength === 0) {
    throw decodeFailed('cannot decode audio', new Error('the sample is empty (0 bytes)'), coords);
  }
  try {
    return await withRemoteMedia(input, signal, async (src, served) => {
      const clip = await decodeLocal(src, options, rng, call);
      if (served) clip.bytesRead = served.bytesRead;
      return clip;
    });
  } catch (err) {
    throw decodeFailed(`cannot decode audio from ${describeInput(input)}`, err, coords);
  }
}

/** {@link decodeAudio} of an input ffmpeg opens itself (a remote one is served on loopback by then). */
async function decodeLocal(
  input: MediaInput,
  options: DecodeAudioOptions,
  rng: Rng,
  { signal, coords }: MediaCallOptions,
): Promise<AudioClip> {
  const rate = options.sampleRate ?? 16000;
  const C = options.channels ?? 1;
  const layout = options.layout ?? 'CT';
  let offset = typeof options.offset === 'number' ? options.offset : 0;
  if (options.offset === 'random') {
    checkRandomOffsetInput(input);
    const info = await probeMedia(input, { signal, coords });
    if (!info.audio) throw new Error('no audio stream');
    offset = rng.float() * Math.max(0, (info.duration ?? 0) - (options.duration ?? 0));
  }
  const T = options.duration === undefined ? undefined : Math.round(options.duration * rate);
  const run = await runFfmpeg({
    input,
    inputOptions: offset > 0 ? ['-ss', offset.toFixed(6)] : [],
    outputOptions: [
      '-vn',
      '-sn',
      '-dn',
      '-ac',
      String(C),
      '-ar',
      String(rate),
      ...(options.duration === undefined ? [] : ['-t', options.duration.toFixed(6)]),
      '-acodec',
      'pcm_f32le',
      '-f',
      'f32le',
    ],
    expectedBytes: T === undefined ? undefined : T * C * 4,
    signal,
  });
  const got = Math.floor(run.data.byteLength / (4 * C));
  const frames = T ?? got;
  if (got === 0) throw new Error(`no audio samples at offset ${offset.toFixed(3)} s`);
  // Copy once into the final layout (the stdout buffer may be unaligned for Float32Array).
  const src = new Float32Array(got * C); // [got, C]
  new Uint8Array(src.buffer).set(run.data.subarray(0, got * C * 4));
  const n = Math.min(got, frames);
  let data: Float32Array;
  if (layout === 'TC') {
    data = frames === got ? src : new Float32Array(frames * C); // [T, C]
    if (data !== src) data.set(src.subarray(0, n * C));
  } else if (C === 1) {
    data = frames === got ? src : new Float32Array(frames); // [1, T]
    if (data !== src) data.set(src.subarray(0, n));
  } else {
    data = new Float32Array(C * frames); // [C, T]
    for (let t = 0; t < n; t++) for (let c = 0; c < C; c++) data[c * frames + t] = src[t * C + c]!;
  }
  return {
    data,
    shape: layout === 'TC' ? [frames, C] : [C, frames],
    dtype: 'float32',
    sampleRate: rate,
    layout,
    offset,
    decodedSamples: n,
  };
}
