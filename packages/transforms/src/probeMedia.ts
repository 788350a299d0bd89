import { stat } from 'node:fs/promises';
import { StreamsError, throwIfAborted } from '@streams/core';
import { decodeFailed, type SampleCoordinates } from './decodeGuard.js';
import { ffmpegInfo, ffprobeInfo } from './ffmpegInfo.js';
import { RECONNECT_CHATTER, servedInputOptions, withRemoteMedia } from './remoteMedia.js';
import {
  checkInput,
  describeInput,
  FfmpegFailed,
  type MediaInput,
  runTool,
  withSpill,
} from './runFfmpeg.js';

/** What a media file holds. Durations are in seconds; `undefined` when the container does not say. */
export interface MediaInfo {
  duration: number | undefined;
  format: string | undefined;
  video?: {
    codec: string;
    width: number;
    height: number;
    fps: number | undefined;
    frames: number | undefined;
  };
  audio?: { codec: string; sampleRate: number; channels: number };
  /** `ffprobe` or `ffmpeg` (parsed from `ffmpeg -i`). */
  probedWith: 'ffprobe' | 'ffmpeg';
}

/** Options of {@link probeMedia}. */
export interface ProbeOptions {
  signal?: AbortSignal;
  coords?: SampleCoordinates;
  /** `false` forces parsing `ffmpeg -i` even when ffprobe exists. */
  ffprobe?: boolean;
}

/**
 * Reads duration, frame rate, size and audio layout of a media input with ffprobe (JSON), or by
 * parsing `ffmpeg -i` output when ffprobe is not installed. Unreadable input is a
 * `STREAMS_DECODE_FAILED` error. Results for local files are cached by path, size and mtime.
 */
export async function probeMedia(
  input: MediaInput,
  options: ProbeOptions = {},
): Promise<MediaInfo> {
  checkInput(input);
  throwIfAborted(options.signal);
  return withRemoteMedia(input, options.signal, (local) => probeLocal(local, options)).catch(
    (err: unknown) => {
      throw decodeFailed(`cannot probe ${describeInput(input)}`, err, options.coords);
    },
  );
}

async function probeLocal(input: MediaInput, options: ProbeOptions): Promise<MediaInfo> {
  // Local files are probed once per (path, size, mtime): random clip offsets probe every sample.
  let key: string | undefined;
  if (typeof input === 'string') {
    const st = await stat(input).catch(() => undefined);
    if (st) key = `${options.ffprobe === false ? 'ff' : 'fp'}\0${input}\0${st.size}\0${st.mtimeMs}`;
    const hit = key === undefined ? undefined : probeCache.get(key);
    if (hit) {
      probeCache.delete(key!);
      probeCache.set(key!, hit);
      return structuredClone(hit);
    }
  }
  const info = await withSpill(input, (src) => probeOnce(src, options));
  if (key !== undefined) {
    probeCache.set(key, info);
    if (probeCache.size > PROBE_CACHE_SIZE) probeCache.delete(probeCache.keys().next().value!);
  }
  return structuredClone(info);
}

const PROBE_CACHE_SIZE = 1024;
const probeCache = new Map<string, MediaInfo>();

async function probeOnce(input: MediaInput, options: ProbeOptions): Promise<MediaInfo> {
  const { signal } = options;
  const probe = options.ffprobe === false ? undefined : await ffprobeInfo();
  const src = typeof input === 'string' ? input : 'pipe:0';
  if (probe) {
    const r = await runTool(
      probe.path,
      [
        '-v',
        'error',
        ...servedInputOptions(src),
        '-print_format',
        'json',
        '-show_format',
        '-show_streams',
        src,
      ],
      input,
      signal,
    );
    if (r.code !== 0) {
      const lines = r.stderr.trim().split('\n');
      const last =
        lines
          .filter((l) => !RECONNECT_CHATTER.test(l))
          .slice(-2)
          .join('; ') || `exit ${r.code}`;
      throw new FfmpegFailed(`ffprobe: ${last}`, r.stderr);
    }
    return fromFfprobe(JSON.parse(r.stdout) as FfprobeJson);
  }
  const ff = await ffmpegInfo();
  const r = await runTool(
    ff.path,
    ['-hide_banner', ...servedInputOptions(src), '-i', src],
    input,
    signal,
  );
  if (!r.stderr.includes('Input #0')) {
    const last = r.stderr.trim().split('\n').pop() ?? '';
    throw new FfmpegFailed(`ffmpeg cannot read the input: ${last}`, r.stderr);
  }
  return parseFfmpegInfo(r.stderr);
}

interface FfprobeJson {
  format?: { duration?: string; format_name?: string };
  streams?: Array<{
    codec_type?: string;
    codec_name?: string;
    width?: number;
    height?: number;
    avg_frame_rate?: string;
    r_frame_rate?: string;
    nb_frames?: string;
    sample_rate?: string;
    channels?: number;
    duration?: string;
  }>;
}

function rate(text: string | undefined): number | undefined {
  if (!text) return undefined;
  const [n, d] = text.split('/').map(Number);
  if (!n || (d !== undefined && !d)) return undefined;
  return d === undefined ? n : n / d;
}

function fromFfprobe(j: FfprobeJson): MediaInfo {
  const v = j.streams?.find((s) => s.codec_type === 'video' && s.width);
  const a = j.streams?.find((s) => s.codec_type === 'audio');
  const duration = Number(j.format?.duration ?? v?.duration ?? a?.duration);
  const info: MediaInfo = {
    duration: Number.isFinite(duration) ? duration : undefined,
    format: j.format?.format_name,
    probedWith: 'ffprobe',
  };
  if (v) {
    const frames = Number(v.nb_frames);
    info.video = {
      codec: v.codec_name ?? 'unknown',
      width: v.width!,
      height: v.height ?? 0,
      fps: rate(v.avg_frame_rate) ?? rate(v.r_frame_rate),
      frames: Number.isFinite(frames) && frames > 0 ? frames : undefined,
    };
  }
  if (a)
    info.audio = {
      codec: a.codec_name ?? 'unknown',
      sampleRate: Number(a.sample_rate),
      channels: a.channels ?? 0,
    };
  if (!info.video && !info.audio) throw new Error('no audio or video stream');
  return info;
}

const LAYOUTS: Record<string, number> = {
  mono: 1,
  stereo: 2,
  '2.1': 3,
  quad: 4,
  '4.0': 4,
  '5.0': 5,
  '5.1': 6,
  '6.1': 7,
  '7.1': 8,
};

/** Parses the stream summary `ffmpeg -i` prints (used when ffprobe is not installed). */
export function parseFfmpegInfo(stderr: string): MediaInfo {
  const inputAt = stderr.indexOf('Input #0');
  if (inputAt === -1) {
    const last = stderr.trim().split('\n').pop() ?? '';
    throw new Error(`ffmpeg cannot read the input: ${last}`);
  }
  const text = stderr.slice(inputAt);
  const fmt = /^Input #0, ([^ ]+?), from/m.exec(text)?.[1];
  const d = /Duration: (\d+):(\d+):(\d+(?:\.\d+)?)/.exec(text);
  const info: MediaInfo = {
    duration: d ? Number(d[1]) * 3600 + Number(d[2]) * 60 + Number(d[3]) : undefined,
    format: fmt,
    probedWith: 'ffmpeg',
  };
  const vLine = /Stream #0:\d+.*?: Video: (.*)/.exec(text)?.[1];
  if (vLine) {
    const size = /(?:^|[ ,])(\d{1,5})x(\d{1,5})(?=[ ,\]]|$)/.exec(vLine);
    const fps = /([\d.]+)(k?) fps/.exec(vLine) ?? /([\d.]+)(k?) tbr/.exec(vLine);
    info.video = {
      codec: vLine.split(/[ ,]/)[0] ?? 'unknown',
      width: Number(size?.[1] ?? 0),
      height: Number(size?.[2] ?? 0),
      fps: fps ? Number(fps[1]) * (fps[2] ? 1000 : 1) : undefined,
      frames: undefined,
    };
  }
  const aLine = /Stream #0:\d+.*?: Audio: (.*)/.exec(text)?.[1];
  if (aLine) {
    const hz = /(\d+) Hz/.exec(aLine);
    const parts = aLine.split(', ');
    const layout = parts[2] ?? '';
    const ch =
      LAYOUTS[layout.replace(/\(.*\)/, '')] ?? Number(/(\d+) channels/.exec(layout)?.[1] ?? 0);
    info.audio = {
      codec: aLine.split(/[ ,]/)[0] ?? 'unknown',
      sampleRate: Number(hz?.[1] ?? 0),
      channels: ch,
    };
  }
  if (!info.video && !info.audio) {
    throw new StreamsError(
      'STREAMS_DECODE_FAILED',
      '[streams/transforms] no audio or video stream in the input',
    );
  }
  return info;
}
