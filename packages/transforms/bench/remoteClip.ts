// Clips of a remote video by range requests vs downloading the whole object first, from an object
// store stand-in: a node:http server adding 20 ms before each answer and sending at 25 MB/s.
import { open, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { rng } from '@streams/core';
import { type BenchEntry, benchEntry, makeTestVideo } from '@streams/testkit';
import { videoClip } from '../src/index.js';
import { httpReader } from '../test/media.js';

const LATENCY_MS = 20;
const BYTES_PER_S = 25e6;
const CHUNK = 64 << 10;

/** Serves `file` with single byte ranges, at {@link LATENCY_MS} and {@link BYTES_PER_S}. */
async function slowServer(file: string): Promise<{ url: string; close(): Promise<void> }> {
  const size = (await stat(file)).size;
  const fh = await open(file);
  const server = createServer(async (req, res) => {
    await sleep(LATENCY_MS);
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    const end = m?.[2] ? Number(m[2]) + 1 : size;
    res.writeHead(m ? 206 : 200, {
      'Content-Length': end - start,
      ...(m ? { 'Content-Range': `bytes ${start}-${end - 1}/${size}` } : {}),
    });
    if (req.method === 'HEAD') return void res.end();
    for (let at = start; at < end && !res.destroyed; at += CHUNK) {
      const n = Math.min(CHUNK, end - at);
      const buf = Buffer.alloc(n);
      await fh.read(buf, 0, n, at);
      await sleep((n / BYTES_PER_S) * 1000);
      res.write(buf);
    }
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v.mp4`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await fh.close();
    },
  };
}

/** Median of paired, alternating rounds of `ref` and `cand` (see run.ts). */
type Compare = (
  rounds: number,
  ref: () => Promise<number>,
  cand: () => Promise<number>,
) => Promise<[number, number]>;

/** Clips per second and bytes per clip, ranged vs whole-object download, 2 clips in flight. */
export async function remoteClipBench(dir: string, compare: Compare): Promise<BenchEntry[]> {
  const file = join(dir, 'remote.mp4');
  await makeTestVideo(file, { seconds: 40 });
  const size = (await stat(file)).size;
  const server = await slowServer(file);
  try {
    const CLIPS = 4; // per round
    const opts = { frames: 8, fps: 8, size: [112, 112] as [number, number] };
    const preps = Array.from({ length: CLIPS }, (_, i) =>
      videoClip({ ...opts, offset: 20 + 4 * i }),
    );
    const reader = httpReader();
    const ranged = Array.from({ length: CLIPS }, (_, i) =>
      videoClip({ ...opts, offset: 20 + 4 * i, reader }),
    );
    let rangedBytes = 0;
    let rangedClips = 0;
    const round = async (one: (i: number) => Promise<void>) => {
      const t0 = performance.now();
      await Promise.all(
        [0, 1].map(async (k) => {
          for (let i = k; i < CLIPS; i += 2) await one(i);
        }),
      );
      return CLIPS / ((performance.now() - t0) / 1000);
    };
    const whole = async (i: number) => {
      const bytes = new Uint8Array(await (await fetch(server.url)).arrayBuffer());
      if (bytes.byteLength !== size) throw new Error('short download');
      const { video } = await preps[i]!({ mp4: bytes }, rng(0, i));
      if (video.decodedFrames !== 8) throw new Error('short clip');
    };
    const byRanges = async (i: number) => {
      const { video } = await ranged[i]!({ mp4: server.url }, rng(0, i));
      if (video.decodedFrames !== 8) throw new Error('short clip');
      rangedBytes += video.bytesRead!;
      rangedClips++;
    };
    await round(whole);
    await round(byRanges);
    const [ref, cand] = await compare(
      5,
      () => round(whole),
      () => round(byRanges),
    );
    const label = `${(size / 1e6).toFixed(1)} MB MP4, 8 frames at 20-32 s, ${LATENCY_MS} ms + ${BYTES_PER_S / 1e6} MB/s server, 2 in flight`;
    return [
      benchEntry({
        name: `videoClip by range requests (${label})`,
        unit: 'clips/s',
        value: cand,
        reference: 'whole object downloaded, then the same clip',
        referenceValue: ref,
      }),
      benchEntry({
        name: 'videoClip by range requests: bytes read per clip',
        unit: 'bytes',
        value: rangedBytes / rangedClips,
        reference: 'the whole object',
        referenceValue: size,
        lowerIsBetter: true,
      }),
    ];
  } finally {
    await server.close();
  }
}
