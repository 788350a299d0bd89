// Child process of planRss.test.ts: opens a StreamingDataset over one index table, shuffled, and
// takes its first batch in a fresh process, so the peak RSS it prints (`maxRSS`) is that open's
// and that batch's alone. Prints one JSON line.
import { StreamingDataset } from '../src/index.js';

const [file, batch] = process.argv.slice(2) as [string, string];
const batchSize = Number(batch);
await using ds = await StreamingDataset.open<{ id: number; label: number }>({
  local: file,
  // Metadata only: the rows' URL cells are not fetched.
  columnsToDownload: [],
  shuffleAlgorithm: 'py1e',
  batchSize,
  seed: 17,
  world: { rank: 0, worldSize: 1 },
});
let first: Array<{ id: number; label: number }> = [];
for await (const b of ds.batches()) {
  first = b;
  break;
}
const plan = ds.plan();
console.log(
  JSON.stringify({
    epochLength: ds.epochLength,
    units: plan.shardOffsets[0]!.length - 1,
    planned: [...plan.ids.subarray(0, batchSize)],
    first: first.map((r) => ({ id: Number(r.id), label: Number(r.label) })),
    maxRssMB: process.resourceUsage().maxRSS / 1024,
  }),
);
