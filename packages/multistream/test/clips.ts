// Tiny mp4 clips for the coherent video tests and benchmark: every frame is split in two uniform
// halves, the left half's gray level names the clip and the right half's the frame index, so a
// decoded frame says where it came from even after lossy coding and resizing.
import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveFfmpeg } from '@streams/transforms';

const LEVEL = 20;

/** The gray level that encodes `k` (clip id or frame index, k < 12). */
export const level = (k: number) => 10 + LEVEL * k;

/** Reads the value encoded at a level back (robust to a few units of coding error). */
export const unlevel = (v: number) => Math.max(0, Math.round((v - 10) / LEVEL));

/** Writes `frames.length` clips `clip<i>.mp4` of `frames[i]` frames of `size` x `size` pixels. */
export async function makeClips(dir: string, frames: number[], size = 32): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const ffmpeg = (await resolveFfmpeg()).path;
  const paths: string[] = [];
  for (const [clip, n] of frames.entries()) {
    const raw = new Uint8Array(n * size * size * 3); // [n, size, size, 3]
    for (let f = 0; f < n; f++)
      for (let y = 0; y < size; y++)
        for (let x = 0; x < size; x++)
          raw.fill(
            x < size / 2 ? level(clip) : level(f),
            ((f * size + y) * size + x) * 3,
            ((f * size + y) * size + x) * 3 + 3,
          );
    const path = join(dir, `clip${String(clip).padStart(2, '0')}.mp4`);
    await new Promise<void>((resolve, reject) => {
      const p = spawn(
        ffmpeg,
        [
          '-v',
          'error',
          '-y',
          '-f',
          'rawvideo',
          '-pix_fmt',
          'rgb24',
          '-s',
          `${size}x${size}`,
          '-r',
          '10',
          '-i',
          '-',
          '-c:v',
          'mpeg4',
          '-q:v',
          '1',
          '-pix_fmt',
          'yuv420p',
          path,
        ],
        { stdio: ['pipe', 'ignore', 'inherit'] },
      );
      p.on('error', reject);
      p.on('exit', (code) =>
        code === 0 ? resolve() : reject(new Error(`ffmpeg exited with ${code}`)),
      );
      p.stdin.end(raw);
    });
    paths.push(path);
  }
  return paths;
}

/** Clip id and frame index of the frame at `offset` of `[.., H, W, 3]` data (H = W = size). */
export function frameLabel(
  data: Uint8Array,
  offset: number,
  size: number,
): { clip: number; frame: number } {
  const mid = Math.floor(size / 2) * size * 3; // middle row
  return {
    clip: unlevel(data[offset + mid + 1 * 3]!),
    frame: unlevel(data[offset + mid + (size - 2) * 3]!),
  };
}
