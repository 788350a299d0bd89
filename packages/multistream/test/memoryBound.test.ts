// The memory bound, measured where it shows: one epoch of 256 MiB of 1 MiB samples read in a
// child process (its own heap and page tables), whose VmRSS is sampled from /proc/self/status
// after every sample. Without `memoryLimit` the window holds the units of 512 samples: the whole
// 256 MiB here (the epoch grows the process by ~250 MiB), so every bound below fails on the
// unbounded code path.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamingDataset } from '../src/index.js';
import { tempDir, writeFilledMds } from './fixtures.js';

const MIB = 1 << 20;
const SAMPLES = 256;
/** What the acceptance allows over the limit (the process itself, code, collector lag). */
const ALLOWANCE = 200e6;
/** Growth during the epoch beyond the limit: buffers let go that the collector has not yet freed. */
const LAG = 96 * MIB;

const worker = fileURLToPath(new URL('./memoryWorker.ts', import.meta.url));

interface Run {
  before: number;
  peak: number;
  hwm: number;
  bytes: number;
  uids: number[];
  intact: boolean;
}

describe.runIf(process.platform === 'linux')('memoryLimit bounds the RSS of an epoch', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let dir: string;
  beforeAll(async () => {
    tmp = await tempDir();
    dir = join(tmp.dir, 'ds');
    // 8 MiB shards of 1 MiB samples (32 shards): written once for every case.
    await writeFilledMds(dir, { n: SAMPLES, bytes: MIB, sizeLimit: 8 * MIB });
  }, 120_000);
  afterAll(async () => {
    await tmp?.cleanup();
  });

  const run = async (limit: number, shuffle: boolean): Promise<Run> => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--conditions=@streams/source', '--import', 'tsx', worker],
      {
        env: {
          ...process.env,
          DIR: dir,
          MEMORY_LIMIT: String(limit),
          SHUFFLE: shuffle ? '1' : '0',
        },
        maxBuffer: 1 << 20,
      },
    );
    return JSON.parse(stdout) as Run;
  };

  it.each([
    // 8 MiB shards are over 1/8 of the resident half of 32 MiB: read a sample at a time, ahead.
    { name: 'in order, large shards read in parts', limit: 32 * MIB, shuffle: false },
    // 8 of them fit in the resident half of 128 MiB: whole shards, the window counting their bytes.
    { name: 'in order, whole shards', limit: 128 * MIB, shuffle: false },
    // The shuffled order spans all 256 MiB: read in parts, not shards read again and again.
    { name: 'shuffled, read in parts', limit: 64 * MIB, shuffle: true },
  ])('$name', async ({ limit, shuffle }) => {
    const r = await run(limit, shuffle);
    // Every sample once, intact.
    expect(r.intact).toBe(true);
    expect(r.bytes).toBe(SAMPLES * MIB);
    expect([...r.uids].sort((a, b) => a - b)).toEqual([...Array(SAMPLES).keys()]);
    expect(shuffle ? r.uids.some((u, k) => u !== k) : r.uids.every((u, k) => u === k)).toBe(true);
    // The bound: the peak over the limit, and the growth during the epoch.
    expect(r.hwm).toBeLessThanOrEqual(limit + ALLOWANCE);
    expect(r.peak - r.before).toBeLessThanOrEqual(limit + LAG);
  }, 90_000);

  it('random access and transformed epochs read the same samples under a limit', async () => {
    // 32 MiB: read in parts; 128 MiB in order: whole shards, here through the transform path.
    for (const [limit, shuffle] of [
      [32 * MIB, true],
      [128 * MIB, false],
    ] as const) {
      await using ds = await StreamingDataset.open<number>({
        local: dir,
        memoryLimit: limit,
        shuffle,
        world: { rank: 0, worldSize: 1 },
        transform: (s) => {
          const p = s.payload as Uint8Array;
          return p[0] === ((s.uid as number) & 255) && p.length === MIB ? (s.uid as number) : -1;
        },
      });
      const uids: number[] = [];
      for await (const uid of ds) uids.push(uid);
      expect(uids.sort((a, b) => a - b)).toEqual([...Array(SAMPLES).keys()]);
      for (const i of [0, 77, SAMPLES - 1]) expect(await ds.get(i)).toBe(i);
    }
  }, 90_000);
});
