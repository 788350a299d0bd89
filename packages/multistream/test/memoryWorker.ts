// Started by memoryBound.test.ts and bench/memory.ts: reads one epoch of DIR under MEMORY_LIMIT
// (none when unset; in order, or shuffled with SHUFFLE=1) and prints, as JSON, this process's
// VmRSS before the epoch, the largest VmRSS seen after each sample (unless RSS_EVERY_SAMPLE=0:
// a read of /proc/self/status costs about 100 µs, a tenth of a 1 MiB sample's time, so the
// benchmark, which reads VmHWM, leaves it out) and VmHWM at the end (from /proc/self/status), the
// epoch's milliseconds, bytes and minor page faults, and what it read.
import { readFileSync } from 'node:fs';
import { StreamingDataset } from '../src/index.js';

/** A field of /proc/self/status, in bytes. */
function status(field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'));
  return Number(m![1]) * 1024;
}

const ds = await StreamingDataset.open<{ uid: number; payload: Uint8Array }>({
  local: process.env.DIR!,
  shuffle: process.env.SHUFFLE === '1',
  memoryLimit: process.env.MEMORY_LIMIT ? Number(process.env.MEMORY_LIMIT) : undefined,
  world: { rank: 0, worldSize: 1 },
});
const before = status('VmRSS');
let peak = before;
const everySample = process.env.RSS_EVERY_SAMPLE !== '0';
const uids: number[] = [];
let intact = true;
let bytes = 0;
const faults0 = process.resourceUsage().minorPageFault;
const t0 = performance.now();
for await (const s of ds) {
  uids.push(s.uid);
  // Every byte of a sample's payload is its uid's low byte (see the test's writer).
  const p = s.payload;
  intact &&= p[0] === (s.uid & 255) && p[p.length - 1] === (s.uid & 255);
  bytes += p.length;
  if (everySample) peak = Math.max(peak, status('VmRSS'));
}
const ms = performance.now() - t0;
const minorFaults = process.resourceUsage().minorPageFault - faults0;
await ds.close();
const hwm = status('VmHWM');
process.stdout.write(
  `${JSON.stringify({ before, peak, hwm, ms, bytes, minorFaults, uids, intact })}\n`,
);
