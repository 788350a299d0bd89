// Benchmarks of the non-MDS formats StreamingDataset reads through the format registry of
// @streams/index (issue 11), each against a raw loop measured in the same run, in paired
// alternating rounds (medians of BENCH_ROUNDS, default 3):
//  1. WebDataset stream from local tars (100-byte and 100 KiB samples) vs a raw tar-reading loop
//     over the same tars in the same order (readFile + readTarBytes + key grouping, sequential); for the
//     shuffled order, vs a raw loop visiting that order (each tar parsed once, samples built from
//     its members like the format does);
//  2. index-table stream (CSV of per-sample image URLs) over node:http behind 100 ms of latency per
//     request, decoded by imageClassification(224), vs a raw loop doing fetch + the same preset at
//     the same concurrency; then consumer starvation with a training step that consumes at 80% of
//     the raw loop's rate, vs the 5% target.
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { rng, sleep } from '@streams/core';
import { createFetchEngine } from '@streams/downloader';
import { readTarBytes, type WdsGroup, WdsWriter, wdsGroupsOf, wdsSampleOf } from '@streams/index';
import { type BenchEntry, benchEntry, startHttpServer } from '@streams/testkit';
import { imageClassification } from '@streams/transforms';
import sharp from 'sharp';
import { StreamingDataset } from '../src/index.js';
import { startLatencyProxy } from './latencyProxy.js';
import { median, paired } from './paired.js';

const ONE = { rank: 0, worldSize: 1 };
/** Files of the index-table stream: the 10,000 (at 100 ms per request, minutes per run; set fewer to try). */
const TABLE_FILES = Number(process.env.BENCH_TABLE_FILES ?? 10_000);
/** Requests in flight and samples decoded ahead, the same on both sides. */
const CONCURRENCY = 32;
const BATCH = 32;

async function wdsEntries(root: string): Promise<BenchEntry[]> {
  const entries: BenchEntry[] = [];
  for (const [label, n, bytes, perTar] of [
    ['100 B', 50_000, 100, 5_000],
    ['100 KiB', 1_000, 100 * 1024, 100],
  ] as const) {
    const dir = join(root, `wds-${bytes}`);
    const w = new WdsWriter({ out: dir, maxShardSamples: perTar });
    const payload = new Uint8Array(bytes).fill(7);
    for (let i = 0; i < n; i++) await w.write({ __key__: `s${i}`, cls: i, bin: payload });
    await w.finish();
    const tars = (await readdir(dir)).filter((f) => f.endsWith('.tar')).sort();
    const check = (c: number) => {
      if (c !== n) throw new Error(`a loop read ${c} of ${n} samples`);
    };

    let fresh = 0;
    for (const shuffle of [false, true]) {
      // `cacheDir`: a new one opens as the first time ever (every tar counted); the shared one
      // remembers the counts (counted once, by the first open below).
      const open = (cacheDir = join(root, 'cache-wds')) =>
        StreamingDataset.open({
          local: dir,
          cacheDir,
          world: ONE,
          shuffle,
          shuffleBlockSize: 1 << 15,
        });
      let ids: Uint32Array | number[];
      {
        await using ds = await open();
        ids = ds.plan().ids;
      }
      if (!shuffle && ids.some((id, i) => id !== i))
        throw new Error('the sequential plan is not the stored order');
      // Timed from the first sample, and from open: a reopen (the counts remembered in the node
      // cache), and from a first open (each tar's samples counted by reading its headers, into a
      // new cache), each in paired rounds with the raw loop, which has no open step.
      let withOpen: number[] = [];
      const withFirstOpen: number[] = [];
      const ours = async (cacheDir?: string) => {
        const tOpen = performance.now();
        await using ds = await open(cacheDir);
        const t0 = performance.now();
        let c = 0;
        for await (const s of ds) c += (s.bin as Uint8Array).length === bytes ? 1 : 0;
        check(c);
        const t1 = performance.now();
        (cacheDir ? withFirstOpen : withOpen).push(c / ((t1 - tOpen) / 1000));
        return c / ((t1 - t0) / 1000);
      };
      // Sequential: each tar read and walked in turn. Shuffled: the same order, each tar parsed
      // once on first touch and kept (the dataset keeps loaded tars in memory too).
      const raw = async () => {
        const t0 = performance.now();
        let c = 0;
        if (!shuffle) {
          for (const f of tars) {
            const url = join(dir, f);
            for (const g of wdsGroupsOf(readTarBytes(await readFile(url), { url }), url))
              c += (wdsSampleOf(g, url).bin as Uint8Array).length === bytes ? 1 : 0;
          }
        } else {
          const loaded: WdsGroup[][] = [];
          for (const id of ids) {
            const t = Math.floor(id / perTar);
            const url = join(dir, tars[t]!);
            let groups = loaded[t];
            if (groups === undefined) {
              groups = loaded[t] = [];
              groups.push(...wdsGroupsOf(readTarBytes(await readFile(url), { url }), url));
            }
            const s = wdsSampleOf(groups[id % perTar]!, url);
            c += (s.bin as Uint8Array).length === bytes ? 1 : 0;
          }
        }
        check(c);
        return c / ((performance.now() - t0) / 1000);
      };
      const r = await paired(() => ours(), raw);
      withOpen = withOpen.slice(1); // the warm-up run
      // First opens, paired with the raw loop of their own rounds.
      const rf = shuffle ? r : await paired(() => ours(join(root, `cache-first-${fresh++}`)), raw);
      entries.push(
        benchEntry({
          name: `WebDataset stream, local tars, ${label} samples (${shuffle ? 'shuffled, py1e' : 'sequential'}, for await per sample)`,
          unit: 'samples/s',
          value: r.a,
          reference: shuffle
            ? 'raw loop over the same shuffled order (each tar read and parsed once, wdsSampleOf)'
            : 'raw loop: readFile + readTarBytes + wdsSampleOf over the same tars in the same order',
          referenceValue: r.b,
          target: 0.8,
        }),
      );
      if (!shuffle)
        entries.push(
          benchEntry({
            name: `WebDataset stream, local tars, ${label} samples (sequential), timed from a reopen (sample counts remembered in the node cache)`,
            unit: 'samples/s',
            value: median(withOpen),
            reference: 'the same raw loop',
            referenceValue: r.b,
            target: 0.8,
          }),
          benchEntry({
            name: `WebDataset stream, local tars, ${label} samples (sequential), timed from a first open (every tar counted: its headers read)`,
            unit: 'samples/s',
            value: median(withFirstOpen.slice(1)), // without the warm-up run
            reference:
              'the same raw loop (it needs no count: it reads each tar once, a first open twice)',
            referenceValue: rf.b,
          }),
        );
    }
  }
  return entries;
}

async function tableEntries(root: string): Promise<BenchEntry[]> {
  // Images of about 8 KiB: 96 x 96 noise JPEGs, each different.
  const www = join(root, 'www');
  await mkdir(join(www, 'img'), { recursive: true });
  const rows = ['url,label'];
  const r0 = rng(1, 'images');
  let total = 0;
  for (let i = 0; i < TABLE_FILES; i++) {
    const px = new Uint8Array(96 * 96 * 3); // [96, 96, 3]
    for (let k = 0; k < px.length; k++) px[k] = r0.float() * 256;
    const jpg = await sharp(px, { raw: { width: 96, height: 96, channels: 3 } })
      .jpeg({ quality: 90 })
      .toBuffer();
    total += jpg.length;
    const name = `img/${String(i).padStart(6, '0')}.jpg`;
    await writeFile(join(www, name), jpg);
    rows.push(`${name},${i % 1000}`);
  }
  await writeFile(join(www, 'index.csv'), `${rows.join('\n')}\n`);
  const meanKiB = total / TABLE_FILES / 1024;

  await using server = await startHttpServer({ root: www });
  await using proxy = await startLatencyProxy(server.url, 100);
  const index = `${proxy.url}/index.csv`;
  const prep = imageClassification({ size: 224, imageField: 'url', labelField: 'label' });
  const shape = 3 * 224 * 224;
  let run = 0;
  const open = (extra: { cacheDir: string }) =>
    StreamingDataset.open({
      remote: index,
      format: 'table',
      cacheLimit: '1gb',
      seed: 1,
      world: ONE,
      batchSize: BATCH,
      decodeAhead: CONCURRENCY,
      engine: createFetchEngine({ concurrency: CONCURRENCY, perHost: CONCURRENCY }),
      transform: async (raw, r, call) => {
        const x = await prep(raw, r, call);
        if (x.image.data.length !== shape) throw new Error('wrong shape');
        return x.label;
      },
      ...extra,
    });
  /** Samples/s of one epoch from a cold cache, with `stepMs` of training per batch; and starvation. */
  const ours = async (stepMs = 0) => {
    const cacheDir = join(root, `cache-table-${run++}`);
    try {
      await using ds = await open({ cacheDir });
      const t0 = performance.now();
      let c = 0;
      for await (const batch of ds.batches()) {
        c += batch.length;
        if (stepMs > 0) await sleep(stepMs);
      }
      // batches() pads the epoch's last batch (dropLast false): those samples are read too.
      if (c !== Math.ceil(TABLE_FILES / BATCH) * BATCH)
        throw new Error(`the dataset read ${c} samples for ${TABLE_FILES} rows`);
      const wall = performance.now() - t0;
      return { rate: c / (wall / 1000), starvation: ds.metrics().waitMs / wall };
    } finally {
      await rm(cacheDir, { recursive: true, force: true });
    }
  };
  // The raw loop: CONCURRENCY workers, each fetching a row's file and running the same preset.
  const raw = async () => {
    const t0 = performance.now();
    const base = `${proxy.url}/`;
    let next = 0;
    let c = 0;
    const r = rng(1, 'raw');
    const worker = async () => {
      while (next < TABLE_FILES) {
        const i = next++;
        const [url, label] = rows[i + 1]!.split(',') as [string, string];
        const res = await fetch(base + url);
        if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
        const bytes = new Uint8Array(await res.arrayBuffer());
        const x = await prep({ url: bytes, label: Number(label) }, r, {});
        if (x.image.data.length !== shape) throw new Error('wrong shape');
        c++;
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    if (c !== TABLE_FILES) throw new Error('raw loop lost rows');
    return c / ((performance.now() - t0) / 1000);
  };
  const r = await paired(async () => (await ours()).rate, raw);
  // A consumer that takes 1.25x the time the raw loop needs per batch: the pipeline has headroom,
  // so every wait is the dataset's doing.
  const stepMs = (BATCH / (0.8 * r.b)) * 1000;
  const starved = await ours(stepMs);
  const files = `${TABLE_FILES.toLocaleString('en-US')} files of ${meanKiB.toFixed(1)} KiB`;
  return [
    benchEntry({
      name: `index-table stream, node:http + 100 ms latency, ${files}, imageClassification(224), ${CONCURRENCY} in flight`,
      unit: 'samples/s',
      value: r.a,
      reference: `raw loop: ${CONCURRENCY} workers doing fetch + the same preset`,
      referenceValue: r.b,
      target: 0.9,
    }),
    benchEntry({
      name: `index-table stream, the same, consumer step of ${stepMs.toFixed(0)} ms per batch of ${BATCH} (80% of the raw rate): starvation`,
      unit: 'share of wall time',
      value: starved.starvation,
      reference: 'target',
      referenceValue: 0.05,
      lowerIsBetter: true,
      target: 1,
    }),
  ];
}

/** `BENCH_ONLY=table` or `BENCH_ONLY=wds` runs one part (other values, used by other packages' benches, run both). */
const ONLY = process.env.BENCH_ONLY;

/** The WebDataset and index-table entries. */
export async function formatsBench(): Promise<BenchEntry[]> {
  const root = await mkdtemp(join(tmpdir(), 'streams-formats-bench-'));
  try {
    return [
      ...(ONLY === 'table' ? [] : await wdsEntries(root)),
      ...(ONLY === 'wds' ? [] : await tableEntries(root)),
    ];
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

// Run on its own (`BENCH_ONLY=table tsx --conditions=@streams/source bench/formats.ts`): prints
// the entries instead of writing the package's results.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href)
  for (const e of await formatsBench()) console.log(JSON.stringify(e));
