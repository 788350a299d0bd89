import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { MDS_REFERENCE_DIR } from '@streams/testkit';
import { describe, expect, it } from 'vitest';
import { commands } from '../src/registry.js';
import { cliArgs, tempDir } from './helpers.js';

const run = promisify(execFile);
const recorder = fileURLToPath(new URL('./fixtures/recordImports.mjs', import.meta.url));

/**
 * The module URLs a CLI call resolved, what it printed, and whether it ran ffmpeg or ffprobe (both
 * are stand-ins on PATH and FFMPEG_PATH/FFPROBE_PATH that leave a mark when started).
 */
async function imports(
  args: string[],
): Promise<{ urls: string[]; stdout: string; ranFfmpeg: boolean }> {
  await using tmp = await tempDir('streams-startup-');
  const log = join(tmp.dir, 'imports.txt');
  const mark = join(tmp.dir, 'ffmpeg-ran');
  for (const tool of ['ffmpeg', 'ffprobe'])
    writeFileSync(join(tmp.dir, tool), `#!/bin/sh\necho "$0 $*" >> "${mark}"\nexit 1\n`, {
      mode: 0o755,
    });
  const { stdout } = await run(process.execPath, ['--import', recorder, ...cliArgs(args)], {
    env: {
      ...process.env,
      STREAMS_RECORD_IMPORTS: log,
      FFMPEG_PATH: join(tmp.dir, 'ffmpeg'),
      FFPROBE_PATH: join(tmp.dir, 'ffprobe'),
      PATH: `${tmp.dir}${delimiter}${process.env.PATH ?? ''}`,
    },
  });
  return {
    urls: readFileSync(log, 'utf8').trim().split('\n'),
    stdout,
    ranFfmpeg: existsSync(mark),
  };
}

// Packages only some commands need: a command that does not use them must not pay for loading them.
const HEAVY = /@tensorflow|duckdb|sharp|@aws-sdk|@google-cloud|vega|playwright|\/packages\/cl\//;
// ffmpeg: the modules that find, probe or run it (fluent-ffmpeg, the installer package, ours).
const FFMPEG =
  /fluent-ffmpeg|@ffmpeg-installer|\/(ffmpegInfo|probeMedia|runFfmpeg|remoteMedia)\.ts$/;

describe('CLI start-up loads only what the command uses', () => {
  it('every registry entry loads the command it names', async () => {
    for (const entry of commands) expect((await entry.load()).name).toBe(entry.name);
  });

  it('--version and --help load no command module and no heavy package', async () => {
    for (const args of [['--version'], ['--help']]) {
      const { urls, stdout } = await imports(args);
      expect(stdout.length).toBeGreaterThan(0);
      expect(urls.filter((u) => /Command\.ts$/.test(u))).toEqual([]);
      expect(urls.filter((u) => HEAVY.test(u))).toEqual([]);
    }
    // --version answers before the command machinery: no package of the workspace is loaded.
    const { urls, stdout } = await imports(['--version']);
    expect(stdout).toMatch(/^\d+\.\d+\.\d+/);
    expect(urls.filter((u) => /\/packages\/|main\.ts$/.test(u))).toEqual([]);
  }, 60_000);

  it('cat of a local MDS dataset loads neither TensorFlow.js, Apache Arrow, DuckDB, sharp, ffmpeg, the cloud SDKs nor the train command', async () => {
    const { urls, stdout, ranFfmpeg } = await imports([
      'cat',
      join(MDS_REFERENCE_DIR, 'plain'),
      '--limit',
      '2',
    ]);
    expect(stdout.trim().split('\n')).toHaveLength(2);
    expect(urls.some((u) => u.endsWith('/catCommand.ts'))).toBe(true);
    expect(urls.filter((u) => /trainCommand|@tensorflow|\/packages\/cl\//.test(u))).toEqual([]);
    // Arrow (about 500 modules) loads only where an index table is read.
    expect(urls.some((u) => u.includes('/packages/index/src/'))).toBe(true);
    expect(urls.filter((u) => /apache-arrow|\/tables\/openTable\.ts$/.test(u))).toEqual([]);
    // DuckDB, sharp, the AWS and GCS SDKs (as for --version), and no ffmpeg found, probed or run.
    expect(urls.filter((u) => HEAVY.test(u))).toEqual([]);
    expect(urls.filter((u) => FFMPEG.test(u) || /\/packages\/transforms\//.test(u))).toEqual([]);
    expect(ranFfmpeg).toBe(false);
  }, 60_000);
});
