/**
 * Throughput of the fetch engine against the raw clients it wraps, measured in the same run on
 * loopback servers at the same concurrency:
 *   - S3 (s3rver child process): engine vs raw `GetObjectCommand` + pipeline to a file.
 *   - HTTP (node:http file server): engine vs raw `fetch` + pipeline to a file.
 * Cases: 1 x 256 MiB, 64 x 4 MiB, 2,500 x 16 KiB (the 5,000 halved to keep the run
 * under 4 minutes on 2 cores; BENCH_SMALL_COUNT=5000 restores it). Both sides write every
 * object to disk; the engine also checks sizes and lands atomically (temp file + rename). The
 * headline ratio runs the engine with fsync off, the raw side's durability; the engine's
 * default (fsync before each rename) is reported next to it, from one round.
 * Env: BENCH_BIG_MIB (256), BENCH_MEDIUM_COUNT (64), BENCH_SMALL_COUNT (2500),
 * BENCH_CONCURRENCY (16), BENCH_ROUNDS (2, best of), BENCH_SERVERS (s3,http), BENCH_CASES
 * (big,medium,small).
 */
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { rng } from '@streams/core';
import {
  type BenchEntry,
  benchEntry,
  startHttpServer,
  startS3Server,
  writeBenchResults,
} from '@streams/testkit';
import type { Driver } from '../src/driver.js';
import { httpDriver } from '../src/drivers/http.js';
import { s3Driver } from '../src/drivers/s3.js';
import { createFetchEngine } from '../src/fetchEngine.js';

const MiB = 1 << 20;
const BIG_MIB = Number(process.env.BENCH_BIG_MIB ?? 256);
const MEDIUM_COUNT = Number(process.env.BENCH_MEDIUM_COUNT ?? 64);
const SMALL_COUNT = Number(process.env.BENCH_SMALL_COUNT ?? 2500);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);

interface Case {
  label: string;
  prefix: string;
  count: number;
  size: number;
}

const SERVERS = (process.env.BENCH_SERVERS ?? 's3,http').split(',');
const ONLY = (process.env.BENCH_CASES ?? 'big,medium,small').split(',');

const CASES: Case[] = [
  { label: `1 x ${BIG_MIB} MiB`, prefix: 'big', count: 1, size: BIG_MIB * MiB },
  { label: `${MEDIUM_COUNT} x 4 MiB`, prefix: 'medium', count: MEDIUM_COUNT, size: 4 * MiB },
  { label: `${SMALL_COUNT} x 16 KiB`, prefix: 'small', count: SMALL_COUNT, size: 16 * 1024 },
].filter((c) => ONLY.includes(c.prefix));

/** Test bytes: a 1 MiB block from the seeded PRNG, repeated, with the seed stamped in front. */
function payload(size: number, seed: number): Buffer {
  const r = rng(7, 'downloader.bench');
  const block = Buffer.allocUnsafe(Math.min(size, 1 << 20)); // [<= 1 MiB]
  for (let i = 0; i + 4 <= block.byteLength; i += 4) block.writeUInt32LE(r.nextUint32(), i);
  const out = Buffer.allocUnsafe(size); // [size]
  for (let at = 0; at < size; at += block.byteLength)
    block.copy(out, at, 0, Math.min(block.byteLength, size - at));
  out.writeUInt32LE(seed >>> 0, 0);
  return out;
}

const key = (c: Case, i: number) => `${c.prefix}/${String(i).padStart(5, '0')}.bin`;

/** Runs `task` for 0..n-1 with `concurrency` workers. */
async function pool(
  n: number,
  concurrency: number,
  task: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      while (next < n) await task(next++);
    }),
  );
}

/** Best-of-ROUNDS seconds for `run`, alternating with the other side by the caller. */
async function timed(run: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await run();
  return (performance.now() - t0) / 1000;
}

type Side = 'raw' | 'engine' | 'engine+fsync';

/**
 * Best-of-ROUNDS times of the raw client, the engine with fsync off (the same durability as the
 * raw side: the headline ratio) and the engine with its defaults (fsync before rename).
 */
async function measure(
  name: string,
  c: Case,
  out: string,
  engineRun: (dir: string, fsync: boolean) => Promise<void>,
  rawRun: (dir: string) => Promise<void>,
  reference: string,
): Promise<BenchEntry[]> {
  const best: Record<Side, number> = { raw: Infinity, engine: Infinity, 'engine+fsync': Infinity };
  const sides: Side[] = ['raw', 'engine', 'engine+fsync'];
  for (let round = 0; round < ROUNDS; round++) {
    // Rotate the order so no side always runs on a warmer page cache or a quieter machine.
    const order = sides.map((_, i) => sides[(i + round) % sides.length]!);
    for (const side of order) {
      // The fsync variant is context, not the headline: one round is enough.
      if (side === 'engine+fsync' && round > 0) continue;
      const dir = join(out, `${side}-${round}`);
      await mkdir(join(dir, c.prefix), { recursive: true });
      const s = await timed(() =>
        side === 'raw' ? rawRun(dir) : engineRun(dir, side === 'engine+fsync'),
      );
      best[side] = Math.min(best[side], s);
      await rm(dir, { recursive: true, force: true });
    }
  }
  const bytes = c.count * c.size;
  const mibs = (s: number) => bytes / MiB / s;
  const ops = (s: number) => c.count / s;
  const fmt = (s: number) => `${mibs(s).toFixed(1)} MiB/s ${ops(s).toFixed(1)} obj/s`;
  console.log(
    `${name} ${c.label}: engine ${fmt(best.engine)} | engine+fsync ${fmt(best['engine+fsync'])} | ${reference} ${fmt(best.raw)}`,
  );
  const entry = (
    what: string,
    unit: string,
    f: (s: number) => number,
    side: Side,
    target: number | null,
  ) =>
    benchEntry({
      name: `${name} ${c.label} ${what}${side === 'engine+fsync' ? ' (engine fsync on)' : ''}`,
      unit,
      value: f(best[side]),
      reference,
      referenceValue: f(best.raw),
      target,
    });
  return [
    entry('throughput', 'MiB/s', mibs, 'engine', 0.9),
    entry('objects', 'objects/s', ops, 'engine', 0.9),
    entry('throughput', 'MiB/s', mibs, 'engine+fsync', null),
  ];
}

async function engineDownload(
  driver: Driver,
  base: string,
  c: Case,
  dir: string,
  fsync: boolean,
): Promise<void> {
  const engine = createFetchEngine({
    concurrency: CONCURRENCY,
    perHost: CONCURRENCY,
    seed: 1,
    driverFor: () => driver,
    fsync,
  });
  const queue = engine.prefetch({ depth: CONCURRENCY });
  for (let i = 0; i < c.count; i++)
    void queue.enqueue(`${base}${key(c, i)}`, join(dir, key(c, i)), { size: c.size });
  queue.close();
  await queue.drain();
}

async function main(): Promise<void> {
  const started = performance.now();
  const work = await mkdtemp(join(tmpdir(), 'streams-dl-bench-'));
  const entries: BenchEntry[] = [];
  try {
    // Fixtures: one directory served over HTTP, the same objects uploaded to s3rver.
    const root = join(work, 'root');
    for (const c of CASES) {
      await mkdir(join(root, c.prefix), { recursive: true });
      const shared = c.count > 1 ? payload(c.size, 1) : undefined;
      for (let i = 0; i < c.count; i++)
        await writeFile(join(root, key(c, i)), shared ?? payload(c.size, i + 2));
    }
    if (SERVERS.includes('s3')) entries.push(...(await benchS3(started)));
    if (SERVERS.includes('http')) entries.push(...(await benchHttp(root)));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  writeBenchResults(entries, new URL('..', import.meta.url).pathname);
  console.log(`total ${((performance.now() - started) / 1000).toFixed(1)} s`);

  async function benchS3(started: number): Promise<BenchEntry[]> {
    const entries: BenchEntry[] = [];
    await using s3 = await startS3Server({ buckets: ['bench'] });
    const uploader = s3Driver({
      endpoint: s3.endpoint,
      credentials: s3.credentials,
      region: s3.region,
    });
    for (const c of CASES) {
      const shared = c.count > 1 ? payload(c.size, 1) : undefined;
      await pool(c.count, 32, async (i) => {
        const data = shared ?? payload(c.size, i + 2);
        await uploader.put(
          `s3://bench/${key(c, i)}`,
          c.size > 64 * MiB ? Readable.from([data]) : data,
        );
      });
    }
    await uploader.dispose?.();
    console.log(
      `fixtures ready in ${((performance.now() - started) / 1000).toFixed(1)} s; concurrency ${CONCURRENCY}`,
    );

    const out = join(work, 'out');
    const client = new S3Client({
      endpoint: s3.endpoint,
      forcePathStyle: true,
      region: s3.region,
      credentials: s3.credentials,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    const driver = s3Driver({
      endpoint: s3.endpoint,
      credentials: s3.credentials,
      region: s3.region,
    });
    for (const c of CASES) {
      entries.push(
        ...(await measure(
          's3',
          c,
          out,
          (dir, fsync) => engineDownload(driver, 's3://bench/', c, dir, fsync),
          (dir) =>
            pool(c.count, CONCURRENCY, async (i) => {
              const res = await client.send(
                new GetObjectCommand({ Bucket: 'bench', Key: key(c, i) }),
              );
              await pipeline(res.Body as Readable, createWriteStream(join(dir, key(c, i))));
            }),
          'raw GetObjectCommand',
        )),
      );
    }
    client.destroy();
    await driver.dispose?.();
    return entries;
  }

  async function benchHttp(root: string): Promise<BenchEntry[]> {
    const entries: BenchEntry[] = [];
    const out = join(work, 'out');
    await using http = await startHttpServer({ root });
    const hd = httpDriver();
    for (const c of CASES) {
      entries.push(
        ...(await measure(
          'http',
          c,
          out,
          (dir, fsync) => engineDownload(hd, http.url, c, dir, fsync),
          (dir) =>
            pool(c.count, CONCURRENCY, async (i) => {
              const res = await fetch(`${http.url}${key(c, i)}`);
              if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
              await pipeline(
                Readable.fromWeb(res.body as import('node:stream/web').ReadableStream),
                createWriteStream(join(dir, key(c, i))),
              );
            }),
          'raw fetch',
        )),
      );
    }
    return entries;
  }
}

await main();
