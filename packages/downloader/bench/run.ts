/**
 * Throughput of the fetch engine against the raw clients it wraps, measured in the same run on
 * loopback servers at the same concurrency:
 *   - S3 (s3rver child process): engine vs raw `GetObjectCommand` + pipeline to a file.
 *   - HTTP (node:http file server): engine vs raw `fetch` + pipeline to a file.
 * Cases: 1 x 256 MiB, 64 x 4 MiB, 5,000 x 16 KiB. Both sides write every object to a file; the
 * engine also checks sizes and lands atomically (temp file + rename). The headline ratio runs
 * the engine with fsync off, the raw side's durability.
 *
 * Rounds are paired: each runs both sides back to back, in alternating order, after one untimed
 * warm-up run of each side, and the figures are the medians over rounds. Files land in BENCH_DIR, by default /dev/shm (tmpfs): on this
 * machine kind the disk's cost per created file swings by 20x with its discard backlog (ext4
 * mounted with `discard`), which decided earlier runs' small-object ratios either way. Set
 * BENCH_DIR to a disk directory to include the disk; the engine's default (fsync before each
 * rename) is then reported too, from one round. Client CPU per object (and s3rver's, read from
 * /proc) is printed for every run: on two shared cores it is the steadier figure.
 * Env: BENCH_DIR, BENCH_BIG_MIB (256), BENCH_MEDIUM_COUNT (64), BENCH_SMALL_COUNT (5000),
 * BENCH_CONCURRENCY (16), BENCH_ROUNDS (3), BENCH_SERVERS (s3,http), BENCH_CASES
 * (big,medium,small).
 */
import { accessSync, constants, createWriteStream, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { rng } from '@streams/core';
import {
  type BenchEntry,
  benchEntry,
  median,
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
const SMALL_COUNT = Number(process.env.BENCH_SMALL_COUNT ?? 5000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const DEST = resolve(process.env.BENCH_DIR ?? defaultDestination());
const DEST_FS = fileSystemOf(DEST);

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

function defaultDestination(): string {
  try {
    accessSync('/dev/shm', constants.W_OK);
    return '/dev/shm';
  } catch {
    return tmpdir();
  }
}

/** The file-system type of the mount holding `path` (from /proc/mounts), or "unknown". */
function fileSystemOf(path: string): string {
  try {
    let best = { at: '', type: 'unknown' };
    for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const [, at, type] = line.split(' ');
      if (!at || !type) continue;
      const inside = path === at || path.startsWith(at.endsWith('/') ? at : `${at}/`);
      if (inside && at.length >= best.at.length) best = { at, type };
    }
    return best.type;
  } catch {
    return 'unknown';
  }
}

/** CPU time (user + system) of process `pid` in microseconds, from /proc; undefined elsewhere. */
function cpuOf(pid: number): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100; // clock ticks of 10 ms
  } catch {
    return undefined;
  }
}

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

type Side = 'raw' | 'engine' | 'engine+fsync';

interface Run {
  seconds: number;
  /** This process's CPU time per object, in microseconds. */
  clientUs: number;
  /** The server process's CPU time per object, when it is a separate process. */
  serverUs: number | undefined;
}

/**
 * Paired rounds of the raw client and the engine (fsync off: the raw side's durability), in
 * alternating order; on a disk destination, one more run of the engine with its defaults
 * (fsync before rename). On a disk, output directories are removed after the case, not between
 * runs, so no run pays for the previous one's deletions (ext4 `discard`). On tmpfs each run's
 * output is removed right after it: there, the files are memory, and gigabytes of earlier runs'
 * output slowed whichever run came last (the engine's in rounds 1 and 3).
 */
async function measure(
  name: string,
  c: Case,
  out: string,
  engineRun: (dir: string, fsync: boolean) => Promise<void>,
  rawRun: (dir: string) => Promise<void>,
  reference: string,
  serverPid?: number,
): Promise<BenchEntry[]> {
  const runs: Record<Side, Run[]> = { raw: [], engine: [], 'engine+fsync': [] };
  const onDisk = DEST_FS !== 'tmpfs';
  const caseDir = join(out, c.prefix);
  const done = async (dir: string) => {
    if (!onDisk) await rm(dir, { recursive: true, force: true });
  };
  try {
    // One untimed run of each side first: the first pass through a code path pays for its JIT
    // compilation, and whichever side ran first would carry it.
    if (c.count > 1)
      for (const side of ['raw', 'engine'] as const) {
        const dir = join(caseDir, `warm-${side}`);
        await mkdir(join(dir, c.prefix), { recursive: true });
        await (side === 'raw' ? rawRun(dir) : engineRun(dir, false));
        await done(dir);
      }
    for (let round = 0; round < ROUNDS; round++) {
      const order: Side[] = round % 2 === 0 ? ['raw', 'engine'] : ['engine', 'raw'];
      if (round === 0 && onDisk) order.push('engine+fsync');
      const line: string[] = [];
      for (const side of order) {
        const dir = join(caseDir, `${side}-${round}`);
        await mkdir(join(dir, c.prefix), { recursive: true });
        const cpu0 = process.cpuUsage();
        const server0 = serverPid === undefined ? undefined : cpuOf(serverPid);
        const t0 = performance.now();
        await (side === 'raw' ? rawRun(dir) : engineRun(dir, side === 'engine+fsync'));
        const seconds = (performance.now() - t0) / 1000;
        const cpu = process.cpuUsage(cpu0);
        const server1 = serverPid === undefined ? undefined : cpuOf(serverPid);
        const run: Run = {
          seconds,
          clientUs: (cpu.user + cpu.system) / c.count,
          serverUs:
            server0 === undefined || server1 === undefined
              ? undefined
              : (server1 - server0) / c.count,
        };
        runs[side].push(run);
        await done(dir);
        const server = run.serverUs === undefined ? '' : `, server ${run.serverUs.toFixed(0)}`;
        line.push(
          `${side} ${(c.count / seconds).toFixed(1)} obj/s (CPU us/obj: client ${run.clientUs.toFixed(0)}${server})`,
        );
      }
      console.log(`${name} ${c.label} round ${round + 1}: ${line.join(' | ')}`);
    }
  } finally {
    await rm(caseDir, { recursive: true, force: true });
  }
  const bytes = c.count * c.size;
  const secs = (side: Side) => median(runs[side].map((r) => r.seconds));
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
      value: f(secs(side)),
      reference,
      referenceValue: f(secs('raw')),
      target,
    });
  const entries = [
    entry('throughput', 'MiB/s', (s) => bytes / MiB / s, 'engine', 0.9),
    entry('objects', 'objects/s', (s) => c.count / s, 'engine', 0.9),
    benchEntry({
      name: `${name} ${c.label} ${serverPid === undefined ? 'CPU per object (client + in-process server)' : 'client CPU per object'}`,
      unit: 'us',
      value: median(runs.engine.map((r) => r.clientUs)),
      reference,
      referenceValue: median(runs.raw.map((r) => r.clientUs)),
      lowerIsBetter: true,
    }),
  ];
  if (onDisk)
    entries.push(entry('throughput', 'MiB/s', (s) => bytes / MiB / s, 'engine+fsync', null));
  return entries;
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
    console.log(
      `destination ${DEST} (${DEST_FS}); ${ROUNDS} paired rounds; concurrency ${CONCURRENCY}`,
    );
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
    console.log(`s3 fixtures ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);

    const out = await mkdtemp(join(DEST, 'streams-dl-bench-out-'));
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
          s3.pid,
        )),
      );
    }
    await rm(out, { recursive: true, force: true });
    client.destroy();
    await driver.dispose?.();
    return entries;
  }

  async function benchHttp(root: string): Promise<BenchEntry[]> {
    const entries: BenchEntry[] = [];
    const out = await mkdtemp(join(DEST, 'streams-dl-bench-out-'));
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
    await rm(out, { recursive: true, force: true });
    return entries;
  }
}

await main();
