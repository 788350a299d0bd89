// Child process of bench/textTables.ts: opens a CSV or JSONL index and reads every row, with our
// reader or TensorFlow.js's `tf.data.csv`, in a fresh process so its peak RSS (`maxRSS`) is this
// task's alone. Prints one JSON line: the read's milliseconds, the first (module-loading) read's,
// the rows, a checksum and the peak RSS.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';

const [mode, file] = process.argv.slice(2) as ['index' | 'tfjs', string];
// Module loading is not part of the read: load it first. Our reader loads each format's modules
// on first use (so that commands which never open a table do not pay for them), and from sources
// through tsx, which transpiles them then; so each side first reads a two-row table of its format,
// and that time is reported apart (`loadMs`).
const tfd = mode === 'tfjs' ? await import('@tensorflow/tfjs-data') : undefined;
const { openIndexTable } = await import('../src/index.js');

async function read(path: string): Promise<{ rows: number; check: number }> {
  let rows = 0;
  let check = 0; // uses every row, so no reader can skip building it
  if (tfd) {
    await tfd.csv(`file://${path}`).forEachAsync((r) => {
      rows++;
      check += (r as { label: number }).label;
    });
  } else {
    await using t = await openIndexTable(path);
    for await (const r of t.rows()) {
      rows++;
      check += r.label as number;
    }
  }
  return { rows, check };
}

const dir = mkdtempSync(join(tmpdir(), 'streams-table-warm-'));
const tiny = join(dir, `tiny${extname(file)}`);
writeFileSync(
  tiny,
  extname(file) === '.csv'
    ? 'url,label,width,height\nhttps://a.example/0.jpg,1,64,64\nhttps://a.example/1.jpg,2,64,64\n'
    : '{"url":"https://a.example/0.jpg","label":1,"width":64,"height":64}\n{"url":"https://a.example/1.jpg","label":2,"width":64,"height":64}\n',
);
const l0 = performance.now();
await read(tiny);
const loadMs = performance.now() - l0;
rmSync(dir, { recursive: true, force: true });
const t0 = performance.now();
const { rows, check } = await read(file);
const ms = performance.now() - t0;
console.log(
  JSON.stringify({ ms, loadMs, rows, check, maxRssMB: process.resourceUsage().maxRSS / 1024 }),
);
