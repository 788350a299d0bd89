import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { StreamsError } from '@streams/core';
import type { RangedReader } from '../src/index.js';

const run = promisify(execFile);

/** Runs the system ffmpeg quietly (test fixtures only). */
export async function ffmpegMake(args: string[]): Promise<void> {
  await run('ffmpeg', ['-hide_banner', '-v', 'error', '-y', ...args]);
}

/** Tiny real media made by ffmpeg in a temp dir; `cleanup()` removes it. */
export interface MediaFixtures {
  dir: string;
  /** testsrc 64x48 @ 10 fps, 2 s, lossless yuv444 H.264 + 440 Hz sine (16 kHz mono AAC), faststart MP4. */
  mp4: string;
  /** The same content with the index at the end (not streamable through a pipe). */
  mp4Tail: string;
  /** The same video in Matroska (streamable). */
  mkv: string;
  /** 1 s blue then 1 s red, 32x32 @ 10 fps, lossless. */
  blueRed: string;
  /** 440 Hz sine, 1 s, 16 kHz mono, as wav/mp3/flac/ogg. */
  wav: string;
  mp3: string;
  flac: string;
  ogg: string;
  /** Stereo 44.1 kHz wav: 440 Hz left, 880 Hz right, 1 s. */
  stereo: string;
  cleanup(): Promise<void>;
}

/** Makes every fixture (about a second of ffmpeg work). */
export async function makeMedia(): Promise<MediaFixtures> {
  const dir = await mkdtemp(join(tmpdir(), 'streams-transforms-media-'));
  const p = (name: string) => join(dir, name);
  const video = ['-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=10:duration=2'];
  const sine = ['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=16000:duration=2'];
  const lossless = ['-c:v', 'libx264', '-qp', '0', '-pix_fmt', 'yuv444p', '-g', '5'];
  await Promise.all([
    ffmpegMake([
      ...video,
      ...sine,
      ...lossless,
      '-c:a',
      'aac',
      '-shortest',
      '-movflags',
      '+faststart',
      p('a.mp4'),
    ]),
    ffmpegMake([...video, ...sine, ...lossless, '-c:a', 'aac', '-shortest', p('tail.mp4')]),
    ffmpegMake([...video, ...sine, ...lossless, '-c:a', 'flac', '-shortest', p('a.mkv')]),
    ffmpegMake([
      '-f',
      'lavfi',
      '-i',
      'color=c=blue:size=32x32:rate=10:duration=1',
      '-f',
      'lavfi',
      '-i',
      'color=c=red:size=32x32:rate=10:duration=1',
      '-filter_complex',
      '[0:v][1:v]concat=n=2:v=1[v]',
      '-map',
      '[v]',
      ...lossless,
      p('bluered.mkv'),
    ]),
  ]);
  const tone = ['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=16000:duration=1'];
  await Promise.all([
    ffmpegMake([...tone, p('a.wav')]),
    ffmpegMake([...tone, '-c:a', 'libmp3lame', p('a.mp3')]),
    ffmpegMake([...tone, '-c:a', 'flac', p('a.flac')]),
    ffmpegMake([...tone, '-c:a', 'libvorbis', p('a.ogg')]),
    ffmpegMake([
      '-f',
      'lavfi',
      '-i',
      'sine=frequency=440:sample_rate=44100:duration=1',
      '-f',
      'lavfi',
      '-i',
      'sine=frequency=880:sample_rate=44100:duration=1',
      '-filter_complex',
      '[0:a][1:a]join=inputs=2:channel_layout=stereo[a]',
      '-map',
      '[a]',
      p('stereo.wav'),
    ]),
  ]);
  return {
    dir,
    mp4: p('a.mp4'),
    mp4Tail: p('tail.mp4'),
    mkv: p('a.mkv'),
    blueRed: p('bluered.mkv'),
    wav: p('a.wav'),
    mp3: p('a.mp3'),
    flac: p('a.flac'),
    ogg: p('a.ogg'),
    stereo: p('stereo.wav'),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Sign changes of a signal: a sine of f Hz over d seconds has about 2 f d of them. */
export function zeroCrossings(x: Float32Array, start = 0, end = x.length, stride = 1): number {
  let n = 0;
  for (let i = start + stride; i < end; i += stride) if (x[i - stride]! < 0 !== x[i]! < 0) n++;
  return n;
}

/**
 * A ranged reader over fetch (as `@streams/downloader`'s FetchEngine reads, which transforms may
 * not import), sending `bearer` when given, counting what it received; `fail(n)` makes read n throw.
 */
export function httpReader(
  options: { bearer?: string; fail?: (n: number) => boolean } = {},
): RangedReader & { bytes: number; reads: number } {
  const headers: Record<string, string> = options.bearer
    ? { authorization: `Bearer ${options.bearer}` }
    : {};
  const reader = {
    bytes: 0,
    reads: 0,
    async stat(url: string, o?: { signal?: AbortSignal | undefined }) {
      const r = await fetch(url, { method: 'HEAD', headers, signal: o?.signal });
      if (r.status === 404)
        throw new StreamsError('STREAMS_NOT_FOUND', `HEAD ${url} failed with HTTP 404`, { url });
      return { size: Number(r.headers.get('content-length')) };
    },
    async read(
      url: string,
      o: { offset?: number; length?: number; signal?: AbortSignal | undefined },
    ) {
      const offset = o.offset ?? 0;
      if (options.fail?.(reader.reads++))
        throw new StreamsError('STREAMS_NETWORK', `GET ${url} failed: connection reset`, { url });
      const range = `bytes=${offset}-${offset + (o.length ?? 1) - 1}`;
      const r = await fetch(url, { headers: { ...headers, range }, signal: o.signal });
      if (r.status !== 206) throw new Error(`GET ${url} gave HTTP ${r.status}`);
      const bytes = new Uint8Array(await r.arrayBuffer());
      reader.bytes += bytes.byteLength;
      return bytes;
    },
  };
  return reader;
}
