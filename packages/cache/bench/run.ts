// Benchmarks of @streams/cache, each against a reference measured in the same run:
//   hit path (acquire + release of a cached entry) vs stat + open + close of the same file,
//     in one process and in four processes sharing the cache;
//   miss path (acquire with a fill that writes the file, then release) vs writing the same
//     bytes directly (plain writeFile, and an atomic write: write + fsync + rename).
// Run: pnpm --filter @streams/cache bench   (the machine is shared: figures are noisy)
import { closeSync, mkdtempSync, openSync, rmSync, statSync } from 'node:fs';
import { mkdir, open, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchEntry, benchEntry, writeBenchResults } from '@streams/testkit';
import { openCache } from '../src/index.js';
import { runHitWorkers } from './runWorkers.js';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const root = mkdtempSync(join(tmpdir(), 'streams-cache-bench-'));
const entries: BenchEntry[] = [];

/**
 * Measures `ops` side by side: short batches of each in turn for about `ms` in total, so that both
 * see the same background load (the machine is shared). Returns mean seconds per operation of each.
 */
async function interleaved(
  ms: number,
  batch: number,
  ops: Array<(i: number) => Promise<void>>,
): Promise<number[]> {
  for (const op of ops) for (let i = 0; i < batch; i++) await op(i); // warm-up
  const spent = ops.map(() => 0);
  const done = ops.map(() => 0);
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    for (const [k, op] of ops.entries()) {
      const start = performance.now();
      for (let i = 0; i < batch; i++) await op(done[k]! + i);
      spent[k]! += performance.now() - start;
      done[k]! += batch;
    }
  }
  return spent.map((t, k) => t / 1000 / done[k]!);
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
  const [hitS, refS, refSyncS] = await interleaved(6000, 100, [
    async (i) => {
      const h = await cache.acquire(keys[i % 16]!.key, noFill);
      await h.release();
    },
    async (i) => {
      const p = keys[i % 16]!.path;
      await stat(p);
      const fh = await open(p, 'r');
      await fh.close();
    },
    async (i) => {
      const p = keys[i % 16]!.path;
      statSync(p);
      closeSync(openSync(p, 'r'));
    },
  ]);
  const hit = 1 / hitS!;
  entries.push(
    benchEntry({
      name: 'cache hit acquire+release, 1 process',
      unit: 'ops/s',
      value: hit,
      reference: 'fs.promises stat+open+close of the same file',
      referenceValue: 1 / refS!,
    }),
  );
  entries.push(
    benchEntry({
      name: 'cache hit acquire+release, 1 process (vs sync floor)',
      unit: 'ops/s',
      value: hit,
      reference: 'statSync+openSync+closeSync of the same file',
      referenceValue: 1 / refSyncS!,
    }),
  );
  await cache.close();

  // ----- hit path, four processes ---------------------------------------------------------------
  const runFour = (mode: 'cache' | 'reference') => runHitWorkers(4, mode, dir, keys, 3000);
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
    for (const fsync of [true, false]) {
      const missDir = join(root, `miss-${size}-${fsync}`);
      const refDir = join(root, `ref-${size}-${fsync}`);
      const missCache = await openCache({ dir: missDir, limit: keep * size, fsync });
      await mkdir(refDir, { recursive: true });
      let missSeq = 0;
      let refSeq = 0;
      const [missS, directS] = await interleaved(size >= 1 << 20 ? 8000 : 5000, 8, [
        async () => {
          const h = await missCache.acquire(
            `miss/${missSeq++}.bin`,
            async ({ tmpPath }) => {
              await writeFile(tmpPath, bytes);
            },
            { expectedSize: size },
          );
          await h.release();
        },
        async () => {
          const n = refSeq++;
          const path = join(refDir, `${n}.bin`);
          if (fsync) {
            // What a careful downloader does without a cache: write a temp file, fsync, rename.
            const fh = await open(`${path}.tmp`, 'w');
            await fh.writeFile(bytes);
            await fh.sync();
            await fh.close();
            await rename(`${path}.tmp`, path);
          } else await writeFile(path, bytes);
          // Steady state like the cache's: only the last `keep` files stay.
          await unlink(join(refDir, `${n - keep}.bin`)).catch(() => {});
        },
      ]);
      await missCache.close();
      entries.push(
        benchEntry({
          name: `cache miss ${label} (fsync ${fsync ? 'on' : 'off'}), time per entry`,
          unit: 'ms',
          value: missS! * 1000,
          reference: fsync
            ? 'write tmp + fsync + rename directly'
            : 'fs.promises.writeFile directly',
          referenceValue: directS! * 1000,
          lowerIsBetter: true,
        }),
      );
    }
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
writeBenchResults(entries, packageDir);
