// Memory bound and read-ahead (issue 15), over 1 GiB of 1 MiB samples in 64 MB MDS shards, each
// epoch read in a child process (test/memoryWorker.ts) so its VmHWM is its own, in paired,
// alternating rounds (paired.ts):
//  1. peak RSS (VmHWM) of an epoch with `memoryLimit: 256 MiB`, in order and shuffled (py1e),
//     against the limit + 200 MB;
//  2. samples/s of those epochs against the same epochs with no memoryLimit (today's path);
//  3. cold sequential MiB/s (memoryLimit 256 MiB: read in parts, with read-ahead) against
//     `dd bs=1M` over the same files, the page cache dropped before each run: `drop_caches` where
//     permitted (root), else file by file with `dd iflag=nocache count=0` (posix_fadvise DONTNEED);
//     and against the same epoch warm, which shows what read-ahead leaves of the disk's latency;
//  4. the same cold epoch with libuv's io_uring file reads (`UV_USE_IO_URING=1`, which Node 20
//     leaves off by default) against `dd`: a read then costs the main thread no thread-pool
//     hand-off; and with glibc's malloc also keeping freed memory (MALLOC_TRIM_THRESHOLD_,
//     MALLOC_MMAP_THRESHOLD_), so sample buffers reuse pages instead of faulting in fresh ones;
//     and with that memory in transparent huge pages (GLIBC_TUNABLES=glibc.malloc.hugetlb=1).
//     Each variant's minor page faults per MiB and peak RSS are printed.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type BenchEntry, benchEntry } from '@streams/testkit';
import { writeFilledMds } from '../test/fixtures.js';
import { median, paired } from './paired.js';

const MIB = 1 << 20;
const SAMPLES = 1024;
const LIMIT = 256 * MIB;
const ALLOWANCE = 200e6;
/** glibc malloc settings (read at process start) that keep freed memory for reuse. */
const KEEP_FREED_MEMORY = {
  MALLOC_TRIM_THRESHOLD_: String(1 << 30),
  MALLOC_MMAP_THRESHOLD_: String(32 << 20),
};
/** And glibc 2.35+'s malloc asking for transparent huge pages (`madvise`) for what it maps. */
const HUGE_PAGES = { GLIBC_TUNABLES: 'glibc.malloc.hugetlb=1' };
const worker = fileURLToPath(new URL('../test/memoryWorker.ts', import.meta.url));

interface Epoch {
  hwm: number;
  ms: number;
  bytes: number;
  minorFaults: number;
}

/** One epoch in a fresh process. */
async function epoch(
  dir: string,
  limit: number | undefined,
  shuffle: boolean,
  extraEnv: Record<string, string> = {},
): Promise<Epoch> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--conditions=@streams/source', '--import', 'tsx', worker],
    {
      env: {
        ...process.env,
        DIR: dir,
        MEMORY_LIMIT: limit === undefined ? '' : String(limit),
        SHUFFLE: shuffle ? '1' : '0',
        // VmHWM is the peak this bench reports: no sampling of VmRSS after each sample.
        RSS_EVERY_SAMPLE: '0',
        ...extraEnv,
      },
      maxBuffer: 1 << 20,
    },
  );
  return JSON.parse(stdout) as Epoch;
}

/** Drops the files from the page cache; says how. */
function dropCache(files: readonly string[]): string {
  try {
    execFileSync('sh', ['-c', 'sync; echo 1 > /proc/sys/vm/drop_caches'], { stdio: 'ignore' });
    return 'drop_caches';
  } catch {
    for (const f of files)
      execFileSync('dd', [`if=${f}`, 'iflag=nocache', 'count=0'], { stdio: 'ignore' });
    return 'posix_fadvise DONTNEED per file (drop_caches not permitted)';
  }
}

/** Entries of the memory and read-ahead benchmark (see the header). */
export async function memoryBench(): Promise<BenchEntry[]> {
  const root = await mkdtemp(join(tmpdir(), 'streams-memory-'));
  try {
    const dir = join(root, 'ds');
    await writeFilledMds(dir, { n: SAMPLES, bytes: MIB, sizeLimit: 64 * MIB });
    const files = (await readdir(dir)).filter((f) => f.endsWith('.mds')).map((f) => join(dir, f));
    let fileBytes = 0;
    for (const f of files) fileBytes += (await stat(f)).size;
    const entries: BenchEntry[] = [];

    for (const shuffle of [false, true]) {
      const order = shuffle ? 'shuffled (py1e)' : 'in order';
      const bounded: Epoch[] = [];
      const today: Epoch[] = [];
      const rate = (e: Epoch) => (SAMPLES * 1000) / e.ms;
      const { a, b } = await paired(
        async () => rate(bounded[bounded.push(await epoch(dir, LIMIT, shuffle)) - 1]!),
        async () => rate(today[today.push(await epoch(dir, undefined, shuffle)) - 1]!),
      );
      const hwm = median(bounded.map((e) => e.hwm)) / 1e6;
      console.log(
        `memory ${order}: peak RSS ${hwm.toFixed(0)} MB with memoryLimit 256 MiB, ${(median(today.map((e) => e.hwm)) / 1e6).toFixed(0)} MB without`,
      );
      entries.push(
        benchEntry({
          name: `memory: peak RSS of an epoch, 1 GiB of 1 MiB samples in 64 MB shards, ${order}, memoryLimit 256 MiB`,
          unit: 'MB',
          value: hwm,
          reference: 'limit + 200 MB',
          referenceValue: (LIMIT + ALLOWANCE) / 1e6,
          lowerIsBetter: true,
          target: 1,
        }),
        benchEntry({
          name: `memory: samples/s of that epoch (${order}, 1 MiB samples, memoryLimit 256 MiB)`,
          unit: 'samples/s',
          value: a,
          reference: 'the same epoch without memoryLimit',
          referenceValue: b,
          target: 0.9,
        }),
      );
    }

    let how = '';
    /** Minor page faults per MiB read and peak RSS, by variant: what each process setting changes. */
    const faults = new Map<string, number[]>();
    const peaks = new Map<string, number[]>();
    const coldWith = (env: Record<string, string>) => async () => {
      how = dropCache(files);
      const e = await epoch(dir, LIMIT, false, env);
      const variant = Object.keys(env).join(' + ') || 'defaults';
      faults.set(variant, [...(faults.get(variant) ?? []), e.minorFaults / (e.bytes / MIB)]);
      peaks.set(variant, [...(peaks.get(variant) ?? []), e.hwm / 1e6]);
      return e.bytes / MIB / (e.ms / 1000);
    };
    const cold = coldWith({});
    const dd = async () => {
      how = dropCache(files);
      const t0 = performance.now();
      execFileSync('sh', [
        '-c',
        'for f; do dd if="$f" bs=1M of=/dev/null status=none; done',
        'sh',
        ...files,
      ]);
      return fileBytes / MIB / ((performance.now() - t0) / 1000);
    };
    const { a, b } = await paired(cold, dd);
    console.log(`memory: cold reads, page cache dropped by ${how}`);
    entries.push(
      benchEntry({
        name: `read-ahead: cold sequential 1 MiB samples, memoryLimit 256 MiB (cache dropped: ${how})`,
        unit: 'MiB/s',
        value: a,
        reference: 'dd bs=1M over the same files',
        referenceValue: b,
        target: 0.9,
      }),
    );
    const uring = await paired(coldWith({ UV_USE_IO_URING: '1' }), dd);
    entries.push(
      benchEntry({
        name: `read-ahead: cold sequential 1 MiB samples, memoryLimit 256 MiB, UV_USE_IO_URING=1 (cache dropped: ${how})`,
        unit: 'MiB/s',
        value: uring.a,
        reference: 'dd bs=1M over the same files',
        referenceValue: uring.b,
        target: 0.9,
      }),
    );
    // And with glibc's malloc told to keep freed memory (no trim of the heap's top, 1 MiB samples
    // from the heap rather than fresh mmaps): freed sample buffers are reused instead of every
    // read faulting in fresh pages (about half the minor faults here). Process-start settings, like
    // UV_USE_IO_URING: the README's recipe for cold reads of large samples.
    const keep = await paired(coldWith({ UV_USE_IO_URING: '1', ...KEEP_FREED_MEMORY }), dd);
    entries.push(
      benchEntry({
        name: `read-ahead: cold sequential 1 MiB samples, memoryLimit 256 MiB, UV_USE_IO_URING=1 and malloc keeping freed memory (cache dropped: ${how})`,
        unit: 'MiB/s',
        value: keep.a,
        reference: 'dd bs=1M over the same files',
        referenceValue: keep.b,
        target: 0.9,
      }),
    );
    // And with malloc's memory in transparent huge pages (the machine's THP mode `madvise`, which
    // glibc.malloc.hugetlb=1 asks for): one fault per 2 MiB instead of per 4 KiB page.
    // (Without io_uring: with huge pages its reads measured slower, warm 0.9 against 2.1-2.8 GiB/s.)
    const huge = await paired(coldWith({ ...KEEP_FREED_MEMORY, ...HUGE_PAGES }), dd);
    entries.push(
      benchEntry({
        name: `read-ahead: cold sequential 1 MiB samples, memoryLimit 256 MiB, malloc keeping freed memory in transparent huge pages (cache dropped: ${how})`,
        unit: 'MiB/s',
        value: huge.a,
        reference: 'dd bs=1M over the same files',
        referenceValue: huge.b,
        target: 0.9,
      }),
    );
    for (const [variant, perMib] of faults)
      console.log(
        `memory: cold epoch with ${variant}: ${median(perMib).toFixed(1)} minor page faults per MiB read, peak RSS ${Math.min(...peaks.get(variant)!).toFixed(0)}-${Math.max(...peaks.get(variant)!).toFixed(0)} MB`,
      );
    // What read-ahead hides: the same epoch from disk and from the page cache.
    const hidden = await paired(cold, async () => {
      const e = await epoch(dir, LIMIT, false);
      return e.bytes / MIB / (e.ms / 1000);
    });
    entries.push(
      benchEntry({
        name: `read-ahead: cold sequential 1 MiB samples, memoryLimit 256 MiB (cache dropped: ${how})`,
        unit: 'MiB/s',
        value: hidden.a,
        reference: 'the same epoch warm (page cache)',
        referenceValue: hidden.b,
      }),
    );
    return entries;
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
