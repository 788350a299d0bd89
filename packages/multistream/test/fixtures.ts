import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { MdsWriter } from '@streams/index';

/** A temp directory removed by `cleanup()`. */
export async function tempDir(
  prefix = 'streams-ms-',
): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * Writes an MDS dataset of `n` samples: `uid` (stream tag * 1e6 + index) and a `payload` of
 * `bytes` bytes derived from the uid, so every read can be verified.
 */
export async function writeMds(
  out: string,
  o: {
    n: number;
    tag: number;
    bytes?: number;
    sizeLimit?: number;
    compression?: string;
    hashes?: string[];
  },
): Promise<void> {
  const w = new MdsWriter({
    out,
    columns: { uid: 'int', payload: 'bytes' },
    sizeLimit: o.sizeLimit ?? 2000,
    compression: o.compression ?? null,
    hashes: o.hashes,
  });
  for (let i = 0; i < o.n; i++)
    await w.write({ uid: o.tag * 1e6 + i, payload: payloadOf(o.tag * 1e6 + i, o.bytes ?? 16) });
  await w.finish();
}

/**
 * Writes an MDS dataset of `n` samples `{ uid, payload }` whose payload of `bytes` bytes is the
 * uid's low byte repeated (cheap to write for large samples; `test/memoryWorker.ts` checks it).
 */
export async function writeFilledMds(
  out: string,
  o: { n: number; bytes: number; sizeLimit: number },
): Promise<void> {
  const w = new MdsWriter({
    out,
    columns: { uid: 'int', payload: 'bytes' },
    sizeLimit: o.sizeLimit,
  });
  const payload = new Uint8Array(o.bytes);
  for (let uid = 0; uid < o.n; uid++) await w.write({ uid, payload: payload.fill(uid & 255) });
  await w.finish();
}

/** The payload a sample of `uid` must carry. */
export function payloadOf(uid: number, bytes: number): Uint8Array {
  // xorshift32 bytes: incompressible, so compressed shards keep their size.
  const p = new Uint8Array(bytes);
  let x = (uid * 2654435761) >>> 0 || 1;
  for (let k = 0; k < bytes; k++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    p[k] = x & 0xff;
  }
  return p;
}

/** A rank started by {@link spawnRank}: the child and the promise of its end. */
export interface RankProcess {
  child: ChildProcessByStdio<null, Readable, Readable>;
  /** Resolves when the child exits 0 or is SIGKILLed; rejects with its stderr otherwise. */
  done: Promise<void>;
}

/**
 * Starts `worker` (a TypeScript file) as one rank of a job: a real child process with torchrun-style
 * RANK / WORLD_SIZE / LOCAL_RANK / LOCAL_WORLD_SIZE in `env`, its stdout piped to the caller.
 */
export function spawnRank(worker: string, rank: number, env: Record<string, string>): RankProcess {
  const child = spawn(
    process.execPath,
    ['--conditions=@streams/source', '--import', 'tsx', worker],
    {
      env: { ...process.env, RANK: String(rank), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += String(d);
  });
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code !== 0 && signal !== 'SIGKILL')
        reject(new Error(`rank ${rank} exited ${code}: ${stderr}`));
      else resolve();
    });
  });
  return { child, done };
}

/**
 * Runs `worker` (a TypeScript file) as one rank of a job: a real child process with torchrun-style
 * RANK / WORLD_SIZE / LOCAL_RANK / LOCAL_WORLD_SIZE in `env`. Resolves when it exits 0 or is
 * SIGKILLed (a rank that kills itself after its checkpoint); rejects with its stderr otherwise.
 */
export function runRank(worker: string, rank: number, env: Record<string, string>): Promise<void> {
  const { child, done } = spawnRank(worker, rank, env);
  child.stdout.pipe(process.stdout, { end: false });
  return done;
}
