// CSV and JSONL index tables: open + read every row of 1M rows (url, label, width, height), our
// reader against TensorFlow.js's `tf.data.csv` on the CSV of the same rows (tfjs has no JSONL
// reader), in child processes (peak RSS is each task's own), alternating rounds, medians.
// Run alone: `tsx --conditions=@streams/source bench/textTables.ts` (BENCH_TEXT_ROWS, BENCH_ROUNDS).
import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type BenchEntry, benchEntry, benchTable, median } from '@streams/testkit';

const HERE = dirname(fileURLToPath(import.meta.url));
const run = promisify(execFile);

interface Result {
  ms: number;
  loadMs: number;
  rows: number;
  check: number;
  maxRssMB: number;
}

async function child(mode: 'index' | 'tfjs', file: string): Promise<Result> {
  const { stdout } = await run(
    process.execPath,
    ['--import', 'tsx', '--conditions=@streams/source', join(HERE, 'tableChild.ts'), mode, file],
    { cwd: join(HERE, '..'), maxBuffer: 1 << 20 },
  );
  return JSON.parse(stdout.trim().split('\n').pop() as string);
}

/** Writes the same rows as CSV and JSONL. */
async function writeTables(n: number, csv: string, jsonl: string): Promise<void> {
  const c = createWriteStream(csv);
  const j = createWriteStream(jsonl);
  const write = (s: import('node:fs').WriteStream, text: string) =>
    s.write(text) ? undefined : new Promise<void>((r) => s.once('drain', () => r()));
  let a = 'url,label,width,height\n';
  let b = '';
  for (let i = 0; i < n; i++) {
    const url = `https://data.example.com/images/${String(i).padStart(9, '0')}.jpg`;
    const label = i % 1000;
    const w = 64 + ((i * 7) % 4000);
    const h = 64 + ((i * 13) % 3000);
    a += `${url},${label},${w},${h}\n`;
    b += `{"url":"${url}","label":${label},"width":${w},"height":${h}}\n`;
    if (a.length > 1 << 20 || i === n - 1) {
      await write(c, a);
      await write(j, b);
      a = '';
      b = '';
    }
  }
  await Promise.all([c, j].map((s) => new Promise((r) => s.end(r))));
}

/** The CSV and JSONL entries: rows/s against tf.data.csv (target 5x), peak RSS against 2x the file + 150 MB. */
export async function textTableEntries(
  n = Number(process.env.BENCH_TEXT_ROWS ?? 1_000_000),
  rounds = Number(process.env.BENCH_ROUNDS ?? 3),
): Promise<BenchEntry[]> {
  const work = await mkdtemp(join(tmpdir(), 'streams-text-tables-'));
  try {
    const csv = join(work, 'index.csv');
    const jsonl = join(work, 'index.jsonl');
    await writeTables(n, csv, jsonl);
    const r: Record<'csv' | 'jsonl' | 'tfjs', Result[]> = { csv: [], jsonl: [], tfjs: [] };
    for (let k = 0; k < rounds; k++) {
      // Alternating order, so neither side always runs on a cache warmed by the other.
      const order =
        k % 2 === 0 ? (['tfjs', 'csv', 'jsonl'] as const) : (['jsonl', 'csv', 'tfjs'] as const);
      for (const m of order)
        r[m].push(await child(m === 'tfjs' ? 'tfjs' : 'index', m === 'jsonl' ? jsonl : csv));
    }
    for (const [m, xs] of Object.entries(r))
      for (const x of xs)
        if (x.rows !== n || x.check !== r.tfjs[0]?.check)
          throw new Error(
            `${m} read ${x.rows} rows (check ${x.check}), not the ${n} rows tfjs read`,
          );
    const rate = (xs: Result[]) => n / (median(xs.map((x) => x.ms)) / 1000);
    for (const [m, xs] of Object.entries(r))
      console.log(
        `text tables: ${m} first read of a two-row table (module loading, not timed): ${median(xs.map((x) => x.loadMs)).toFixed(0)} ms`,
      );
    const rss = (xs: Result[]) => median(xs.map((x) => x.maxRssMB));
    const rows = n.toLocaleString('en-US');
    const entries: BenchEntry[] = [];
    for (const [fmt, file, xs] of [
      ['CSV', csv, r.csv],
      ['JSONL', jsonl, r.jsonl],
    ] as const) {
      const sizeMB = (await stat(file)).size / 2 ** 20;
      entries.push(
        benchEntry({
          name: `open + read every row of a ${rows}-row ${fmt} index`,
          unit: 'rows/s',
          value: rate(xs),
          reference: `tf.data.csv on the CSV of the same rows (median of ${rounds})`,
          referenceValue: rate(r.tfjs),
          target: 5,
        }),
        benchEntry({
          name: `peak RSS: open + read every row of a ${rows}-row ${fmt} index (${sizeMB.toFixed(0)} MB)`,
          unit: 'MB',
          value: rss(xs),
          reference: 'budget: 2x the file + 150 MB',
          referenceValue: 2 * sizeMB + 150,
          target: 1,
          lowerIsBetter: true,
        }),
      );
    }
    entries.push(
      benchEntry({
        name: `peak RSS: open + read every row of the ${rows}-row CSV index vs tf.data.csv`,
        unit: 'MB',
        value: rss(r.csv),
        reference: 'tf.data.csv',
        referenceValue: rss(r.tfjs),
        lowerIsBetter: true,
      }),
    );
    return entries;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url))
  console.log(benchTable(await textTableEntries()));
