// Decoding a whole video as one sequence of frames, shared by the video sources.
import { rng, StreamsError } from '@streams/core';
import { decodeVideo, type MediaInput, probeMedia } from '@streams/transforms';

/** Frame options of the video sources. */
export interface VideoFrameOptions {
  /** `[height, width]` of every frame (frames are resized). Required: batches need one shape. */
  size: [number, number];
  /** 3 (RGB, default) or 1 (gray). */
  channels?: 1 | 3;
}

/** Decodes every frame of a video (exported for worker threads): `[length, H, W, C]` uint8. */
export async function decodeVideoFrames(
  input: MediaInput,
  length: number,
  options: VideoFrameOptions,
): Promise<Uint8Array> {
  const clip = await decodeVideo(
    input,
    { frames: length, size: options.size, channels: options.channels ?? 3, pad: 'error' },
    rng(0, 'unused'), // no random offset or augmentation: the generator is never drawn from
  );
  return clip.data;
}

/** Frames of a video, from the container (ffprobe's frame count, else duration x rate). */
export async function videoFrameCount(input: MediaInput, where: string): Promise<number> {
  const info = await probeMedia(input);
  const v = info.video;
  const frames =
    v?.frames ?? (v?.fps && info.duration ? Math.round(v.fps * info.duration) : undefined);
  if (!frames) {
    throw new StreamsError(
      'STREAMS_DECODE_FAILED',
      `[streams/multistream] ${where}: cannot tell how many frames the video has`,
      { fix: 'remux the video so that its container records the frame count or duration' },
    );
  }
  return frames;
}

/** The item shape of a video source. */
export function frameShape(o: VideoFrameOptions): number[] {
  return [o.size[0], o.size[1], o.channels ?? 3];
}
