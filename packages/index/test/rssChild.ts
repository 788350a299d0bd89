// Child process of lazyIndexRss.test.ts: opens an index table and reads its first batch in a fresh
// process, so the peak RSS it prints (`maxRSS`) is that open's alone. Prints one JSON line.
import { openDataset } from '../src/index.js';

const [file, batch] = process.argv.slice(2) as [string, string];
await using ds = await openDataset(file);
const first: unknown[] = [];
for await (const s of ds.samples({ end: Number(batch) })) first.push(s);
console.log(
  JSON.stringify({
    format: ds.format,
    rows: ds.numSamples,
    first,
    maxRssMB: process.resourceUsage().maxRSS / 1024,
  }),
);
