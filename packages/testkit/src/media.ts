// Test media made by the system ffmpeg (Debian's, on PATH), for tests that need real files with
// known content: long seekable videos and audio whose tone changes at known times.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

async function ffmpeg(args: string[]): Promise<void> {
  await run('ffmpeg', ['-hide_banner', '-v', 'error', '-y', ...args]);
}

/** Options of {@link makeTestVideo}. */
export interface TestVideoOptions {
  /** Length in seconds. */
  seconds: number;
  /** `WxH`, default `320x240`. */
  size?: string;
  /** Frames per second (also the keyframe interval in frames: one keyframe a second). Default 25. */
  fps?: number;
  /** H.264 bit rate; noise is added so the file really is about this rate. Default `1M`. */
  bitrate?: string;
  /** Add a 440 Hz AAC track. Default false. */
  audio?: boolean;
}

/**
 * Writes an MP4 of `testsrc2` plus temporal noise (every frame differs and costs bytes), H.264
 * with a keyframe every second, its index (moov atom) at the front (`+faststart`).
 */
export async function makeTestVideo(path: string, options: TestVideoOptions): Promise<void> {
  await makeTestVideos([{ path, seconds: options.seconds }], options);
}

/**
 * {@link makeTestVideo} for several files of their own lengths, cut from one source by one
 * ffmpeg process (cheaper than a process each on a busy machine).
 */
export async function makeTestVideos(
  files: readonly { path: string; seconds: number }[],
  options: Omit<TestVideoOptions, 'seconds'> = {},
): Promise<void> {
  const { size = '320x240', fps = 25, bitrate = '1M' } = options;
  const seconds = Math.max(...files.map((f) => f.seconds));
  const outputs = files.flatMap((f) => [
    ...(options.audio ? ['-map', '0:v', '-map', '1:a', '-c:a', 'aac'] : []),
    '-t',
    String(f.seconds),
    '-vf',
    'noise=alls=12:allf=t',
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-g',
    String(fps),
    '-b:v',
    bitrate,
    '-movflags',
    '+faststart',
    f.path,
  ]);
  await ffmpeg([
    '-f',
    'lavfi',
    '-i',
    `testsrc2=size=${size}:rate=${fps}:duration=${seconds}`,
    ...(options.audio
      ? ['-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=16000:duration=${seconds}`]
      : []),
    ...outputs,
  ]);
}

/**
 * Writes a mono 16-bit WAV of pure tones, one after another: `steps[i]` plays `frequency` Hz for
 * `seconds` (a tone change at every step boundary).
 */
export async function makeToneSteps(
  path: string,
  steps: readonly { frequency: number; seconds: number }[],
  sampleRate = 16000,
): Promise<void> {
  const inputs = steps.flatMap((s) => [
    '-f',
    'lavfi',
    '-i',
    `sine=frequency=${s.frequency}:sample_rate=${sampleRate}:duration=${s.seconds}`,
  ]);
  const pads = steps.map((_, i) => `[${i}:a]`).join('');
  await ffmpeg([
    ...inputs,
    '-filter_complex',
    `${pads}concat=n=${steps.length}:v=0:a=1[a]`,
    '-map',
    '[a]',
    '-c:a',
    'pcm_s16le',
    path,
  ]);
}

/**
 * The dominant frequency of a mono signal, in Hz, from its zero crossings (pure tones only).
 * `samples` is `[T]` float PCM at `sampleRate`.
 */
export function toneFrequency(samples: Float32Array, sampleRate: number): number {
  let crossings = 0;
  for (let i = 1; i < samples.length; i++) if (samples[i - 1]! < 0 !== samples[i]! < 0) crossings++;
  return (crossings / 2) * (sampleRate / samples.length);
}
