// Benchmarks of @streams/cache, each against a reference measured in the same run:
//   hit path (acquire + release of a cached entry) vs stat + open + close of the same file,
//     in one process and in four processes sharing the cache;
//   miss path (acquire with a fill that writes the file, then release) vs writing the same
//     bytes directly (plain writeFile, and an atomic write: write + fsync + rename).
// Run: pnpm --filter @streams/cache bench   (the machine is shared: figures are noisy)
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, open, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchEntry, benchEntry, writeBenchResults } from '@streams/testkit';
import { openCache } from '../src/index.js';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const root = mkdtempSync(join(tmpdir(), 'streams-cache-bench-'));
const entries: BenchEntry[] = [];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

/** Runs `op` repeatedly for `ms` and returns operations per second. */
async function rate(ms: number, op: (i: number) => Promise<void>): Promise<number> {
  for (let i = 0; i < 200; i++) await op(i); // warm-up
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < ms) {
    for (let i = 0; i < 100; i++) await op(n + i);
    n += 100;
  }
  return n / ((performance.now() - t0) / 1000);
}

try {
  // ----- hit path, one process ------------------------------------------------------------------
  const dir = join(root, 'cache');
  const cache = await openCache({ dir, limit: '1gb' });
  const keys: Array<{ key: string; path: string }> = [];
  for (let i = 0; i < 16; i++) {
    const key = `hits/shard.${i}.bin`;
    const h = await cache.acquire(key, async ({ tmpPath }) => {
      await writeFile(tmpPath, Buffer.alloc(64 * 1024, i));
    });
    keys.push({ key, path: h.path });
    await h.release();
  }
  const noFill = async () => {
    throw new Error('pre-filled');
  };
  const hit: number[] = [];
  const ref: number[] = [];
  for (let round = 0; round < 3; round++) {
    hit.push(
      await rate(1000, async (i) => {
        const h = await cache.acquire(keys[i % 16]!.key, noFill);
        await h.release();
      }),
    );
    ref.push(
      await rate(1000, async (i) => {
        const p = keys[i % 16]!.path;
        await stat(p);
        const fh = await open(p, 'r');
        await fh.close();
      }),
    );
  }
  entries.push(
    benchEntry({
      name: 'cache hit acquire+release, 1 process',
      unit: 'ops/s',
      value: median(hit),
      reference: 'fs.promises stat+open+close of the same file',
      referenceValue: median(ref),
    }),
  );
  await cache.close();

  // ----- hit path, four processes ---------------------------------------------------------------
  const worker = join(packageDir, 'bench', 'hitWorker.ts');
  const runFour = async (mode: 'cache' | 'reference'): Promise<number> => {
    const durationMs = 2000;
    const startAt = Date.now() + 2500; // after the children have loaded
    const outs = await Promise.all(
      [0, 1, 2, 3].map(
        () =>
          new Promise<number>((resolve, reject) => {
            const child = spawn(
              process.execPath,
              [
                '--import',
                'tsx',
                '--conditions=@streams/source',
                worker,
                mode,
                dir,
                JSON.stringify(keys),
                String(startAt),
                String(durationMs),
              ],
              { cwd: packageDir, stdio: ['ignore', 'pipe', 'inherit'] },
            );
            let out = '';
            child.stdout.on('data', (d) => {
              out += d;
            });
            child.on('close', (code) =>
              code === 0 ? resolve(Number(out.trim())) : reject(new Error(`worker exited ${code}`)),
            );
          }),
      ),
    );
    return outs.reduce((a, b) => a + b, 0) / (durationMs / 1000);
  };
  const four = await runFour('cache');
  const fourRef = await runFour('reference');
  entries.push(
    benchEntry({
      name: 'cache hit acquire+release, 4 processes (total)',
      unit: 'ops/s',
      value: four,
      reference: '4 processes doing fs.promises stat+open+close',
      referenceValue: fourRef,
    }),
  );

  // ----- miss path -----------------------------------------------------------------------------
  for (const size of [1 << 20, 64 << 10]) {
    const label = size >= 1 << 20 ? `${size >> 20} MiB` : `${size >> 10} KiB`;
    const bytes = Buffer.alloc(size, 42);
    const keep = 32; // steady state: the budget holds 32 files, older ones are evicted / deleted
    const count = size >= 1 << 20 ? 150 : 600;
    for (const fsync of [true, false]) {
      const missDir = join(root, `miss-${size}-${fsync}`);
      const refDir = join(root, `ref-${size}-${fsync}`);
      const missCache = await openCache({ dir: missDir, limit: keep * size, fsync });
      await mkdir(refDir, { recursive: true });
      const miss: number[] = [];
      const direct: number[] = [];
      let seq = 0;
      for (let round = 0; round < 3; round++) {
        let t0 = performance.now();
        for (let i = 0; i < count; i++) {
          const h = await missCache.acquire(
            `miss/${seq++}.bin`,
            async ({ tmpPath }) => {
              await writeFile(tmpPath, bytes);
            },
            { expectedSize: size },
          );
          await h.release();
        }
        miss.push((performance.now() - t0) / count);
        t0 = performance.now();
        for (let i = 0; i < count; i++) {
          const n = seq++;
          const path = join(refDir, `${n}.bin`);
          if (fsync) {
            // What a careful downloader does without a cache: write a temp file, fsync, rename.
            const fh = await open(`${path}.tmp`, 'w');
            await fh.writeFile(bytes);
            await fh.sync();
            await fh.close();
            await rename(`${path}.tmp`, path);
          } else await writeFile(path, bytes);
          await unlink(join(refDir, `${n - keep}.bin`)).catch(() => {});
        }
        direct.push((performance.now() - t0) / count);
      }
      await missCache.close();
      entries.push(
        benchEntry({
          name: `cache miss ${label} (fsync ${fsync ? 'on' : 'off'}), time per entry`,
          unit: 'ms',
          value: median(miss),
          reference: fsync
            ? 'write tmp + fsync + rename directly'
            : 'fs.promises.writeFile directly',
          referenceValue: median(direct),
          lowerIsBetter: true,
        }),
      );
    }
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
writeBenchResults(entries, packageDir);
