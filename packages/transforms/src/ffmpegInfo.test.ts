import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { rng, type StreamsEvent } from '@streams/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MediaFixtures, makeMedia } from '../test/media.js';
import { decodeAudio } from './decodeAudio.js';
import { decodeVideo } from './decodeVideo.js';
import { transformsEvents } from './events.js';
import { ffmpegInfo, resolveFfmpeg, resolveFfprobe } from './ffmpegInfo.js';
import { probeMedia } from './probeMedia.js';
import { activeFfmpegPids } from './runFfmpeg.js';

const installer = (createRequire(import.meta.url)('@ffmpeg-installer/ffmpeg') as { path: string })
  .path;

describe('ffmpeg resolution', () => {
  it('prefers FFMPEG_PATH, then ffmpeg on PATH, then @ffmpeg-installer', async () => {
    const env = await resolveFfmpeg({ env: { FFMPEG_PATH: installer, PATH: '/usr/bin' } });
    expect(env).toMatchObject({ path: installer, source: 'env' });
    const system = await resolveFfmpeg({ env: { PATH: '/nonexistent:/usr/bin' } });
    expect(system).toMatchObject({ path: '/usr/bin/ffmpeg', source: 'system' });
    expect(system.version).toMatch(/^\d/);
    const bundled = await resolveFfmpeg({ env: { PATH: '/nonexistent' } });
    expect(bundled).toMatchObject({ path: installer, source: 'installer' });
    expect(bundled.version).not.toBe('');
  });

  it('fails with STREAMS_FFMPEG_NOT_FOUND when FFMPEG_PATH is wrong', async () => {
    await expect(
      resolveFfmpeg({ env: { FFMPEG_PATH: '/nonexistent/ffmpeg' } }),
    ).rejects.toMatchObject({
      code: 'STREAMS_FFMPEG_NOT_FOUND',
    });
  });

  it('resolves ffprobe from FFPROBE_PATH or PATH, else none (parse ffmpeg -i)', async () => {
    expect(await resolveFfprobe({ env: { FFPROBE_PATH: '/usr/bin/ffprobe' } })).toMatchObject({
      source: 'env',
    });
    expect(await resolveFfprobe({ env: { PATH: '/usr/bin' } })).toMatchObject({ source: 'system' });
    expect(await resolveFfprobe({ env: { PATH: '/nonexistent' } })).toBeUndefined();
  });

  it('reports the chosen binary and version once', async () => {
    const events: StreamsEvent[] = [];
    const off = transformsEvents.on((e) => events.push(e));
    try {
      const [a, b] = await Promise.all([ffmpegInfo(), ffmpegInfo()]);
      const c = await ffmpegInfo();
      expect(b).toBe(a);
      expect(c).toBe(a);
      expect(a.version).toBeTruthy();
      const resolved = events.filter((e) => e.name === 'ffmpeg.resolved');
      expect(resolved).toHaveLength(1);
      expect(resolved[0]?.attrs).toMatchObject({
        path: a.path,
        source: a.source,
        version: a.version,
      });
    } finally {
      off();
    }
  });

  it('decodes with the @ffmpeg-installer binary when no system ffmpeg is on PATH', async () => {
    // A child process whose PATH holds only node: the resolver must fall back to the installer.
    const script = [
      "import { rng } from '@streams/core';",
      "import { decodeVideo, ffmpegInfo } from './src/index.ts';",
      'const info = await ffmpegInfo();',
      'const clip = await decodeVideo(process.argv[1], { frames: 3, fps: 5, size: [6, 8] }, rng(0));',
      'console.log(JSON.stringify({ source: info.source, shape: clip.shape }));',
    ].join('\n');
    const { execFile } = await import('node:child_process');
    const m = await makeMedia();
    const { symlink, mkdir } = await import('node:fs/promises');
    const bin = `${m.dir}/bin`; // PATH = a folder holding only node
    await mkdir(bin);
    await symlink(process.execPath, `${bin}/node`);
    try {
      const out = await new Promise<string>((resolve, reject) => {
        execFile(
          process.execPath,
          [
            '--conditions=@streams/source',
            '--import',
            'tsx',
            '--input-type=module',
            '-e',
            script,
            m.mkv,
          ],
          {
            cwd: new URL('..', import.meta.url).pathname,
            env: { PATH: bin, HOME: process.env.HOME },
            timeout: 60_000,
          },
          (err, stdout, stderr) =>
            err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
        );
      });
      expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual({
        source: 'installer',
        shape: [3, 6, 8, 3],
      });
    } finally {
      await m.cleanup();
    }
  });
});

describe('ffmpeg child processes', () => {
  let m: MediaFixtures;
  beforeAll(async () => {
    m = await makeMedia();
  });
  afterAll(async () => {
    await m?.cleanup();
  });

  const gone = (pid: number) => !existsSync(`/proc/${pid}`);

  it('abort kills the ffmpeg child: no live or zombie process is left', async () => {
    const bytes = await readFile(m.mkv);
    const pids: number[] = [];
    const off = transformsEvents.on((e: StreamsEvent) => {
      if (e.name === 'ffmpeg.spawn') pids.push(Number(e.attrs?.pid));
    });
    try {
      const controller = new AbortController();
      // A stream that sends a little of the video and then stalls forever: ffmpeg keeps waiting.
      const stalled = new Readable({ read() {} });
      stalled.push(bytes.subarray(0, 2000));
      const pending = decodeVideo(stalled, { frames: 200, size: [8, 8] }, rng(0), {
        signal: controller.signal,
      });
      const settled = pending.catch((e: unknown) => e);
      while (pids.length === 0) await new Promise((r) => setTimeout(r, 10));
      expect(existsSync(`/proc/${pids[0]}`)).toBe(true);
      controller.abort();
      const err = await settled;
      expect((err as Error).name).toBe('AbortError');
      expect(gone(pids[0]!)).toBe(true);
      expect(activeFfmpegPids()).not.toContain(pids[0]);
      stalled.destroy();
    } finally {
      off();
    }
  });

  it('abort kills ffprobe and audio decodes too', async () => {
    const bytes = await readFile(m.mkv);
    const pids: number[] = [];
    const off = transformsEvents.on((e: StreamsEvent) => {
      if (e.name === 'ffmpeg.spawn') pids.push(Number(e.attrs?.pid));
    });
    try {
      for (const run of [
        (input: Readable, signal: AbortSignal) => probeMedia(input, { signal }),
        (input: Readable, signal: AbortSignal) =>
          decodeAudio(input, { duration: 1 }, rng(0), { signal }),
      ]) {
        const controller = new AbortController();
        const stalled = new Readable({ read() {} });
        stalled.push(bytes.subarray(0, 1000));
        const before = pids.length;
        const settled = run(stalled, controller.signal).catch((e: unknown) => e);
        while (pids.length === before) await new Promise((r) => setTimeout(r, 10));
        controller.abort();
        expect(((await settled) as Error).name).toBe('AbortError');
        expect(gone(pids.at(-1)!)).toBe(true);
        stalled.destroy();
      }
    } finally {
      off();
    }
  });

  it('an ffmpeg error leaves no process behind', async () => {
    const pids: number[] = [];
    const off = transformsEvents.on((e) => {
      if (e.name === 'ffmpeg.spawn') pids.push(Number(e.attrs?.pid));
    });
    try {
      await expect(
        decodeVideo(new Uint8Array(500).fill(3), { frames: 2 }, rng(0)),
      ).rejects.toMatchObject({
        code: 'STREAMS_DECODE_FAILED',
      });
      expect(pids.length).toBeGreaterThan(0);
      for (const pid of pids) expect(gone(pid)).toBe(true);
    } finally {
      off();
    }
  });

  it('many concurrent aborts leave no process behind', async () => {
    const bytes = await readFile(m.mkv);
    const controller = new AbortController();
    const runs = Array.from({ length: 6 }, () => {
      const s = new Readable({ read() {} });
      s.push(bytes.subarray(0, 1500));
      return decodeVideo(s, { frames: 50, size: [8, 8] }, rng(0), {
        signal: controller.signal,
      }).catch((e: unknown) => e);
    });
    await new Promise((r) => setTimeout(r, 200));
    controller.abort();
    const errors = await Promise.all(runs);
    for (const e of errors) expect((e as Error).name).toBe('AbortError');
    expect(activeFfmpegPids()).toEqual([]);
  });
});
