import { type Rng, StreamsError, throwIfAborted } from '@streams/core';
import { decodeFailed, type SampleCoordinates } from './decodeGuard.js';
import type { Size } from './imageOps.js';
import { probeMedia } from './probeMedia.js';
import { withRemoteMedia } from './remoteMedia.js';
import { checkRandomOffsetInput, describeInput, type MediaInput, runFfmpeg } from './runFfmpeg.js';
import type { Tensor } from './tensor.js';

/** Options of {@link decodeVideo}. Plain data. */
export interface DecodeVideoOptions {
  /** Frames in the clip (T). */
  frames: number;
  /** Target frame rate; frames are resampled (dropped or duplicated) to it. Default: the source rate. */
  fps?: number;
  /** Start in seconds, or `random` (uniform over starts that fit the whole clip). Default 0. */
  offset?: number | 'random';
  /** `n`: shorter side to n (aspect kept); `[h, w]`: exact. Default: source size. */
  size?: Size;
  /** 3 (RGB, default) or 1 (gray). */
  channels?: 1 | 3;
  /** When the video ends before T frames: `repeat` the last frame (default) or `error`. */
  pad?: 'repeat' | 'error';
}

/** A video clip: `data` is `[T, H, W, C]` uint8. */
export interface VideoClip extends Tensor<Uint8Array> {
  dtype: 'uint8';
  layout: 'THWC';
  /** The frame rate of the clip. */
  fps: number | undefined;
  /** The start used, in seconds. */
  offset: number;
  /** Frames that came from the video (the rest were padded). */
  decodedFrames: number;
  /** For a remote input ({@link RemoteMedia}): bytes read by range requests, probe included. */
  bytesRead?: number;
}

/** Call options of the ffmpeg decoders. */
export interface MediaCallOptions {
  signal?: AbortSignal;
  coords?: SampleCoordinates;
}

function scaleFilter(size: Size | undefined): string[] {
  if (size === undefined) return [];
  if (typeof size === 'number') {
    if (!(Number.isInteger(size) && size > 0)) throw badSize(size);
    // Shorter side to `size`, the other side keeps the aspect.
    return [`scale=w='if(lte(iw,ih),${size},-1)':h='if(lte(iw,ih),-1,${size})'`];
  }
  const [h, w] = size;
  if (!(Number.isInteger(h) && Number.isInteger(w) && h > 0 && w > 0)) throw badSize(size);
  return [`scale=${w}:${h}`];
}

function badSize(size: unknown): StreamsError {
  return new StreamsError(
    'STREAMS_INVALID_ARGUMENT',
    `[streams/transforms] bad video size ${JSON.stringify(size)}`,
    {
      fix: 'use a positive integer (shorter side) or [height, width]',
    },
  );
}

/** The output frame size ffmpeg reports for its rawvideo stream. */
function outputSize(stderr: string): [number, number] | undefined {
  const at = stderr.indexOf('Output #0');
  const m = /Stream #0:0.*?: Video: rawvideo.*?, (\d+)x(\d+)/.exec(
    at === -1 ? stderr : stderr.slice(at),
  );
  return m ? [Number(m[2]), Number(m[1])] : undefined;
}

/**
 * Decodes a clip of `frames` frames at `fps` from `offset` (given or drawn from `rng`), resized,
 * as `[T, H, W, C]` uint8, with one ffmpeg child process (plus one probe when the offset is random
 * or the size is unknown). Failures are `STREAMS_DECODE_FAILED` with `coords`.
 */
export async function decodeVideo(
  input: MediaInput,
  options: DecodeVideoOptions,
  rng: Rng,
  call: MediaCallOptions = {},
): Promise<VideoClip> {
  const { signal, coords } = call;
  const T = options.frames;
  if (!(Number.isInteger(T) && T >= 1)) {
    throw new StreamsError(
      'STREAMS_INVALID_ARGUMENT',
      `[streams/transforms] frames must be a positive integer, got ${T}`,
    );
  }
  const filters = [...(options.fps ? [`fps=${options.fps}`] : []), ...scaleFilter(options.size)];
  throwIfAborted(signal);
  if (input instanceof Uint8Array && input.byteLength === 0) {
    throw decodeFailed('cannot decode video', new Error('the sample is empty (0 bytes)'), coords);
  }
  try {
    return await withRemoteMedia(input, signal, async (src, served) => {
      const clip = await decodeLocal(src, options, filters, rng, call);
      if (served) clip.bytesRead = served.bytesRead;
      return clip;
    });
  } catch (err) {
    throw decodeFailed(`cannot decode video from ${describeInput(input)}`, err, coords);
  }
}

/** {@link decodeVideo} of an input ffmpeg opens itself (a remote one is served on loopback by then). */
async function decodeLocal(
  input: MediaInput,
  options: DecodeVideoOptions,
  filters: string[],
  rng: Rng,
  { signal, coords }: MediaCallOptions,
): Promise<VideoClip> {
  const T = options.frames;
  const C = options.channels ?? 3;
  let offset = typeof options.offset === 'number' ? options.offset : 0;
  let fps = options.fps;
  if (options.offset === 'random') {
    checkRandomOffsetInput(input);
    const info = await probeMedia(input, { signal, coords });
    if (!info.video) throw new Error('no video stream');
    fps ??= info.video.fps;
    const span = T / (fps ?? 25);
    offset = rng.float() * Math.max(0, (info.duration ?? 0) - span);
  }
  let expectedBytes: number | undefined;
  if (Array.isArray(options.size)) expectedBytes = T * options.size[0] * options.size[1] * C;
  const run = await runFfmpeg({
    input,
    inputOptions: offset > 0 ? ['-ss', offset.toFixed(6)] : [],
    outputOptions: [
      '-an',
      '-sn',
      '-dn',
      ...(filters.length ? ['-vf', filters.join(',')] : []),
      '-frames:v',
      String(T),
      '-pix_fmt',
      C === 1 ? 'gray' : 'rgb24',
      '-f',
      'rawvideo',
    ],
    expectedBytes,
    verbose: !Array.isArray(options.size),
    signal,
  });
  const hw = Array.isArray(options.size)
    ? [options.size[0], options.size[1]]
    : outputSize(run.stderr);
  if (!hw) throw new Error('ffmpeg produced no video stream');
  const [H, W] = hw as [number, number];
  const frameBytes = H * W * C;
  const got = Math.floor(run.data.byteLength / frameBytes);
  if (got === 0) throw new Error(`no frames at offset ${offset.toFixed(3)} s`);
  if (got < T && options.pad === 'error')
    throw new Error(`only ${got} of ${T} frames at offset ${offset.toFixed(3)} s`);
  let data = run.data;
  if (data.byteLength !== T * frameBytes) {
    data = new Uint8Array(T * frameBytes); // [T, H, W, C]
    data.set(run.data.subarray(0, got * frameBytes));
    const last = run.data.subarray((got - 1) * frameBytes, got * frameBytes);
    for (let t = got; t < T; t++) data.set(last, t * frameBytes);
  }
  return {
    data,
    shape: [T, H, W, C],
    dtype: 'uint8',
    layout: 'THWC',
    fps,
    offset,
    decodedFrames: Math.min(got, T),
  };
}
