// Benchmarks of @streams/transforms, each against its reference measured in the same run.
// Run: pnpm --filter @streams/transforms bench (about a minute; figures are noisy on a shared machine).
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { rng } from '@streams/core';
import { type BenchEntry, benchEntry, pairedRounds, writeBenchResults } from '@streams/testkit';
import sharp from 'sharp';
import { ffmpegInfo, imageClassification, TransformPool, videoClip } from '../src/index.js';
import { remoteClipBench } from './remoteClip.js';

const CONCURRENCY = 4;
const cores = availableParallelism();

/** Runs `fn(i)` for i in [0, n) with `concurrency` in flight; returns items per second. */
async function throughput(
  n: number,
  concurrency: number,
  fn: (i: number) => Promise<unknown>,
): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await fn(next++);
    }),
  );
  return n / ((performance.now() - t0) / 1000);
}

/** Medians of paired, alternating rounds of the reference and the candidate. */
async function compare(
  rounds: number,
  ref: () => Promise<number>,
  cand: () => Promise<number>,
): Promise<[number, number]> {
  const r = await pairedRounds(ref, cand, { rounds });
  return [r.a, r.b];
}

async function imageBench(): Promise<BenchEntry[]> {
  const N = 80; // images per round
  const images: Buffer[] = [];
  for (let i = 0; i < 32; i++) {
    images.push(
      await sharp({
        create: {
          width: 256,
          height: 256,
          channels: 3,
          background: { r: i * 7, g: 100, b: 200 - i },
          noise: { type: 'gaussian', mean: 120, sigma: 40 },
        },
      })
        .jpeg({ quality: 90 })
        .toBuffer(),
    );
  }
  const rawSharp = (i: number) =>
    sharp(images[i % images.length]!)
      .resize(224, 224)
      .raw()
      .toBuffer();
  await using pool = new TransformPool({
    size: cores,
    tasksPerWorker: Math.ceil(CONCURRENCY / cores),
  });
  // The standard eval preset: shorter side to 256 (a no-op here) + center crop 224 + normalize CHW.
  const pooled = pool.imageClassification({ size: 224 });
  // The same with a real 256 -> 224 resample, i.e. the reference's libvips work plus normalization.
  const pooledResample = pool.imageClassification({ size: 224, resize: 224 });
  const inline = imageClassification({ size: 224 });
  const sample = (i: number) => ({ jpg: images[i % images.length]!, cls: i % 10 });
  for (const p of [pooled, pooledResample, inline]) {
    const check = await p(sample(0), rng(0, 0));
    if (
      check.image.shape.join('x') !== '3x224x224' ||
      !(check.image.data instanceof Float32Array)
    ) {
      throw new Error(`unexpected preset output ${check.image.shape}`);
    }
  }
  // Warm up workers, libvips caches and the JIT.
  await throughput(40, CONCURRENCY, (i) => pooled(sample(i), rng(0, i)));
  await throughput(40, CONCURRENCY, (i) => pooledResample(sample(i), rng(0, i)));
  await throughput(40, CONCURRENCY, rawSharp);
  const run = (p: typeof inline) => () =>
    throughput(N, CONCURRENCY, (i) => p(sample(i), rng(1, i)));
  const ref = () => throughput(N, CONCURRENCY, rawSharp);
  const [r1, viaPool] = await compare(9, ref, run(pooled));
  const [r2, viaPoolResample] = await compare(5, ref, run(pooledResample));
  const [r3, viaInline] = await compare(5, ref, run(inline));
  const reference = `raw sharp decode+resize to 224x224 uint8 (${CONCURRENCY} in flight)`;
  return [
    benchEntry({
      name: `imageClassification via TransformPool (256px JPEG -> 3x224x224 f32 CHW, ${CONCURRENCY} in flight)`,
      unit: 'images/s',
      value: viaPool,
      reference,
      referenceValue: r1,
      target: 0.9,
    }),
    benchEntry({
      name: 'same, with a real 256 -> 224 resample (resize: 224)',
      unit: 'images/s',
      value: viaPoolResample,
      reference,
      referenceValue: r2,
    }),
    benchEntry({
      name: 'imageClassification inline (no pool)',
      unit: 'images/s',
      value: viaInline,
      reference,
      referenceValue: r3,
    }),
  ];
}

async function videoBench(dir: string): Promise<BenchEntry[]> {
  const file = join(dir, 'bench.mp4');
  await promisify(execFile)('ffmpeg', [
    '-v',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    'testsrc2=size=320x240:rate=25:duration=12',
    '-c:v',
    'libx264',
    '-preset',
    'veryfast',
    '-g',
    '25',
    '-pix_fmt',
    'yuv420p',
    file,
  ]);
  const bin = (await ffmpegInfo()).path;
  const CLIPS = 8; // clips per round
  const T = 16;
  const opts = { frames: T, fps: 8, size: [112, 112] as [number, number] };
  const offsets = Array.from({ length: CLIPS }, (_, i) => (i * 0.37) % 9);
  // One preset per start, so both sides decode the same clips.
  const preps = offsets.map((offset) => videoClip({ ...opts, offset }));
  // The reference: ffmpeg spawned directly, same decode and filters, stdout collected.
  const bare = (i: number) =>
    new Promise<number>((resolve, reject) => {
      const args = [
        '-hide_banner',
        '-nostdin',
        '-nostats',
        '-loglevel',
        'error',
        '-ss',
        offsets[i]!.toFixed(6),
        '-i',
        file,
        '-an',
        '-sn',
        '-dn',
        '-vf',
        `fps=${opts.fps},scale=112:112`,
        '-frames:v',
        String(T),
        '-pix_fmt',
        'rgb24',
        '-f',
        'rawvideo',
        'pipe:1',
      ];
      const p = spawn(bin, args, { stdio: ['ignore', 'pipe', 'ignore'] });
      const chunks: Buffer[] = [];
      p.stdout.on('data', (c: Buffer) => chunks.push(c));
      p.on('error', reject);
      p.on('close', (code) => {
        const size = Buffer.concat(chunks).length;
        if (code !== 0 || size !== T * 112 * 112 * 3)
          reject(new Error(`bare ffmpeg: code ${code}, ${size} bytes`));
        else resolve(size);
      });
    });
  const viaPreset = async (i: number) => {
    const { video } = await preps[i]!({ mp4: file }, rng(0, i));
    if (video.decodedFrames !== T) throw new Error('short clip');
  };
  // Both sides run `cores` ffmpeg processes at once.
  const framesPerSecond = async (fn: (i: number) => Promise<unknown>) =>
    (await throughput(CLIPS, cores, (i) => fn(i % CLIPS))) * T;
  await framesPerSecond(bare);
  await framesPerSecond((i) => preps[i]!({ mp4: file }, rng(0, i)));
  const [ref, cand] = await compare(
    11,
    () => framesPerSecond(bare),
    () => framesPerSecond((i) => viaPreset(i)),
  );
  return [
    benchEntry({
      name: `videoClip preset (16 frames @ 8 fps, 112x112, from 320x240 H.264, ${cores} in flight)`,
      unit: 'frames/s',
      value: cand,
      reference: 'bare ffmpeg pipe, same args',
      referenceValue: ref,
      target: 0.9,
    }),
  ];
}

const dir = await mkdtemp(join(tmpdir(), 'streams-transforms-bench-'));
try {
  const entries = [
    ...(await imageBench()),
    ...(await videoBench(dir)),
    ...(await remoteClipBench(dir, compare)),
  ];
  writeBenchResults(entries, fileURLToPath(new URL('..', import.meta.url)));
} finally {
  await rm(dir, { recursive: true, force: true });
}
