// Coherent video batches vs a raw loop decoding the same clips with ffmpeg at the same parallelism:
// frames/s of CoherentLoader (K = 4 rows of T = 8 frames, 2 worker threads decoding whole clips,
// collated into [K, T, H, W, C] uint8 batches) against `ffmpeg -f rawvideo` children run 2 at a
// time straight from child_process, each clip's frames read into one buffer. Paired, alternating
// rounds after a warm-up; medians.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BenchEntry, benchEntry } from '@streams/testkit';
import { resolveFfmpeg } from '@streams/transforms';
import { CoherentLoader, videoDirectorySequences } from '../src/index.js';
import { makeClips } from '../test/clips.js';
import { paired } from './paired.js';

const CLIPS = 16;
const FRAMES = 30;
const SIZE = 64;
const WORKERS = 2;

function decodeRaw(ffmpeg: string, path: string, frames: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const p = spawn(
      ffmpeg,
      [
        '-v',
        'error',
        '-i',
        path,
        '-an',
        '-vf',
        `scale=${SIZE}:${SIZE}`,
        '-frames:v',
        String(frames),
        '-pix_fmt',
        'rgb24',
        '-f',
        'rawvideo',
        '-',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const chunks: Buffer[] = [];
    p.stdout.on('data', (c: Buffer) => chunks.push(c));
    p.on('error', reject);
    p.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`ffmpeg exited with ${code}`));
      resolve(Buffer.concat(chunks).length / (SIZE * SIZE * 3));
    });
  });
}

/** The coherent video entry. */
export async function coherentVideoBench(): Promise<BenchEntry[]> {
  const dir = await mkdtemp(join(tmpdir(), 'streams-cv-bench-'));
  try {
    const paths = await makeClips(dir, new Array(CLIPS).fill(FRAMES), SIZE);
    const ffmpeg = (await resolveFfmpeg()).path;
    const source = await videoDirectorySequences(dir, { size: [SIZE, SIZE] });
    const raw = async () => {
      const t0 = performance.now();
      let next = 0;
      let frames = 0;
      await Promise.all(
        Array.from({ length: WORKERS }, async () => {
          while (next < paths.length) {
            const got = await decodeRaw(ffmpeg, paths[next++]!, FRAMES);
            frames += got;
          }
        }),
      );
      if (frames !== CLIPS * FRAMES) throw new Error(`raw loop decoded ${frames} frames`);
      return frames / ((performance.now() - t0) / 1000);
    };
    await using loader = await CoherentLoader.open({
      source,
      slots: 4,
      steps: 8,
      numWorkers: WORKERS,
      world: { rank: 0, worldSize: 1 },
    });
    const ours = async () => {
      const t0 = performance.now();
      let frames = 0;
      for await (const b of loader.batches()) for (const p of b.padMask) frames += p ? 0 : 1;
      if (frames !== CLIPS * FRAMES) throw new Error(`loader gave ${frames} frames`);
      return frames / ((performance.now() - t0) / 1000);
    };
    // The warm-up runs start the worker threads and fill the probe cache.
    const r = await paired(ours, raw);
    return [
      benchEntry({
        name: `coherent video batches [4, 8, ${SIZE}, ${SIZE}, 3], ${CLIPS} clips x ${FRAMES} frames, 2 worker threads`,
        unit: 'frames/s',
        value: r.a,
        reference: 'raw loop: ffmpeg rawvideo children, 2 at a time',
        referenceValue: r.b,
        target: 0.9,
      }),
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
