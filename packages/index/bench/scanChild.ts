// Child process of bench/run.ts: opens (and optionally scans) a Parquet index in a fresh process so
// its peak RSS (`maxRSS`) is this task's alone. Prints one JSON line.
import { asyncBufferFromFile, parquetMetadataAsync, parquetRead } from 'hyparquet';
import { openIndexTable } from '../src/index.js';

const [mode, file, scan] = process.argv.slice(2) as [string, string, string];
// Module loading is not part of an open: load what both paths use first.
await Promise.all([import('hyparquet-compressors'), import('apache-arrow')]);
const t0 = performance.now();
let rows = 0;
let openMs = 0;
if (mode === 'index') {
  await using t = await openIndexTable(file);
  openMs = performance.now() - t0;
  if (scan === 'scan') for await (const b of t.batches()) rows += b.numRows;
  else rows = t.numRows;
} else {
  // The raw reader: hyparquet alone, metadata then every row group, values dropped as they come.
  const buf = await asyncBufferFromFile(file);
  const metadata = await parquetMetadataAsync(buf);
  const first = Number(metadata.row_groups[0]?.num_rows ?? 0);
  if (scan === 'scan') {
    let start = 0;
    for (const rg of metadata.row_groups) {
      const end = start + Number(rg.num_rows);
      await parquetRead({
        file: buf,
        metadata,
        rowStart: start,
        rowEnd: end,
        onChunk: () => undefined,
      });
      start = end;
    }
    openMs = performance.now() - t0;
    rows = start;
  } else {
    // What an open needs: the footer and the first row group (to type the columns).
    await parquetRead({
      file: buf,
      metadata,
      rowStart: 0,
      rowEnd: first,
      onChunk: () => undefined,
    });
    openMs = performance.now() - t0;
    rows = Number(metadata.num_rows);
  }
}
const ms = performance.now() - t0;
console.log(JSON.stringify({ ms, openMs, rows, maxRssMB: process.resourceUsage().maxRSS / 1024 }));
