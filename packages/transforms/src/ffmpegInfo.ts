import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { delimiter, join } from 'node:path';
import { StreamsError } from '@streams/core';
import { transformsEvents } from './events.js';

/** A resolved ffmpeg or ffprobe binary. */
export interface BinaryInfo {
  path: string;
  /** `env` (FFMPEG_PATH / FFPROBE_PATH), `system` (found on PATH) or `installer` (@ffmpeg-installer/ffmpeg). */
  source: 'env' | 'system' | 'installer';
  /** The version token of `-version`, e.g. `5.1.9-0+deb12u1`. */
  version: string;
}

/** Options of the resolvers: the environment to read (default `process.env`), for tests and sandboxes. */
export interface ResolveOptions {
  env?: NodeJS.ProcessEnv;
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function onPath(name: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function versionOf(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(path, ['-hide_banner', '-version'], { timeout: 15_000 }, (err, stdout) => {
      if (err) return reject(err);
      const m = /version\s+(\S+)/.exec(String(stdout));
      resolve(m?.[1] ?? 'unknown');
    });
  });
}

async function checked(
  path: string,
  source: BinaryInfo['source'],
  what: string,
): Promise<BinaryInfo> {
  try {
    return { path, source, version: await versionOf(path) };
  } catch (cause) {
    throw new StreamsError(
      'STREAMS_FFMPEG_NOT_FOUND',
      `[streams/transforms] ${what} at ${path} does not run`,
      {
        cause,
        fix:
          source === 'env' ? 'point the variable at a working binary or unset it' : 'reinstall it',
      },
    );
  }
}

/**
 * Finds ffmpeg: `FFMPEG_PATH` when set (it must run), else `ffmpeg` on `PATH`, else the binary of
 * `@ffmpeg-installer/ffmpeg`. Throws `STREAMS_FFMPEG_NOT_FOUND` when none runs.
 */
export async function resolveFfmpeg(options: ResolveOptions = {}): Promise<BinaryInfo> {
  const env = options.env ?? process.env;
  if (env.FFMPEG_PATH) {
    if (!(await isExecutable(env.FFMPEG_PATH))) {
      throw new StreamsError(
        'STREAMS_FFMPEG_NOT_FOUND',
        `[streams/transforms] FFMPEG_PATH=${env.FFMPEG_PATH} is not an executable file`,
        {
          fix: 'point FFMPEG_PATH at an ffmpeg binary or unset it to use the system ffmpeg',
        },
      );
    }
    return checked(env.FFMPEG_PATH, 'env', 'FFMPEG_PATH');
  }
  const system = await onPath('ffmpeg', env);
  if (system) return checked(system, 'system', 'ffmpeg');
  let installed: string | undefined;
  try {
    const require = createRequire(import.meta.url);
    installed = (require('@ffmpeg-installer/ffmpeg') as { path: string }).path;
  } catch {
    installed = undefined;
  }
  if (installed && (await isExecutable(installed)))
    return checked(installed, 'installer', '@ffmpeg-installer/ffmpeg');
  throw new StreamsError(
    'STREAMS_FFMPEG_NOT_FOUND',
    '[streams/transforms] no ffmpeg binary found',
    {
      fix: 'install ffmpeg (apt-get install ffmpeg), set FFMPEG_PATH, or add @ffmpeg-installer/ffmpeg',
    },
  );
}

/**
 * Finds ffprobe: `FFPROBE_PATH` when set, else `ffprobe` on `PATH`, else `undefined` (probing then
 * parses `ffmpeg -i` output).
 */
export async function resolveFfprobe(
  options: ResolveOptions = {},
): Promise<BinaryInfo | undefined> {
  const env = options.env ?? process.env;
  if (env.FFPROBE_PATH) {
    if (!(await isExecutable(env.FFPROBE_PATH))) {
      throw new StreamsError(
        'STREAMS_FFMPEG_NOT_FOUND',
        `[streams/transforms] FFPROBE_PATH=${env.FFPROBE_PATH} is not an executable file`,
        {
          fix: 'point FFPROBE_PATH at an ffprobe binary or unset it',
        },
      );
    }
    return checked(env.FFPROBE_PATH, 'env', 'FFPROBE_PATH');
  }
  const system = await onPath('ffprobe', env);
  return system ? checked(system, 'system', 'ffprobe') : undefined;
}

let ffmpegOnce: Promise<BinaryInfo> | undefined;
let ffprobeOnce: Promise<BinaryInfo | undefined> | undefined;

/** The ffmpeg this process uses, resolved once; the first call emits `ffmpeg.resolved` (path, source, version). */
export function ffmpegInfo(): Promise<BinaryInfo> {
  ffmpegOnce ??= resolveFfmpeg().then(
    (info) => {
      transformsEvents.emit({
        kind: 'info',
        name: 'ffmpeg.resolved',
        attrs: { binary: 'ffmpeg', path: info.path, source: info.source, version: info.version },
      });
      return info;
    },
    (err: unknown) => {
      ffmpegOnce = undefined; // let a later call retry after the user installs ffmpeg
      throw err;
    },
  );
  return ffmpegOnce;
}

/** The ffprobe this process uses (or `undefined`), resolved once; emits `ffprobe.resolved` once. */
export function ffprobeInfo(): Promise<BinaryInfo | undefined> {
  ffprobeOnce ??= resolveFfprobe().then((info) => {
    transformsEvents.emit({
      kind: 'info',
      name: 'ffprobe.resolved',
      attrs: info
        ? { binary: 'ffprobe', path: info.path, source: info.source, version: info.version }
        : { binary: 'ffprobe', fallback: 'ffmpeg -i' },
    });
    return info;
  });
  return ffprobeOnce;
}
