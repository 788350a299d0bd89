// Child process of bench/textTables.ts: opens a CSV or JSONL index and reads every row, with our
// reader or TensorFlow.js's `tf.data.csv`, in a fresh process so its peak RSS (`maxRSS`) is this
// task's alone. Prints one JSON line.
export {};

const [mode, file] = process.argv.slice(2) as ['index' | 'tfjs', string];
// Module loading is not part of the read: load it first.
const tfd = mode === 'tfjs' ? await import('@tensorflow/tfjs-data') : undefined;
const { openIndexTable } = await import('../src/index.js');
const t0 = performance.now();
let rows = 0;
let check = 0; // uses every row, so no reader can skip building it
if (tfd) {
  await tfd.csv(`file://${file}`).forEachAsync((r) => {
    rows++;
    check += (r as { label: number }).label;
  });
} else {
  await using t = await openIndexTable(file);
  for await (const r of t.rows()) {
    rows++;
    check += r.label as number;
  }
}
const ms = performance.now() - t0;
console.log(JSON.stringify({ ms, rows, check, maxRssMB: process.resourceUsage().maxRSS / 1024 }));
