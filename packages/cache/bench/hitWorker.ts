// One process of the 4-process hit-path benchmark. Opens the cache, prints READY, waits for
// "GO <startAt> <durationMs>" on stdin, loops from startAt for durationMs over the given keys,
// and prints the number of completed operations.
// mode "cache": acquire + release; mode "reference": stat + open + close of the same file.
import { open, stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { openCache } from '../src/index.js';

const [mode, dir, keysJson] = process.argv.slice(2) as [string, string, string];
const keys = JSON.parse(keysJson) as Array<{ key: string; path: string }>;
const cache = await openCache({ dir, limit: '1gb' });
const noFill = async () => {
  throw new Error('bench entries are pre-filled');
};
process.stdout.write('READY\n');
const lines = createInterface({ input: process.stdin });
const go = await new Promise<string>((resolve) => lines.once('line', resolve));
lines.close();
const [, startAtText, durationText] = go.split(' ');
const startAt = Number(startAtText);
const end = startAt + Number(durationText);
while (Date.now() < startAt) await new Promise((r) => setTimeout(r, 1));
let ops = 0;
while (Date.now() < end) {
  for (let i = 0; i < 64; i++) {
    const k = keys[(ops + i) % keys.length]!;
    if (mode === 'cache') {
      const h = await cache.acquire(k.key, noFill);
      await h.release();
    } else {
      await stat(k.path);
      const fh = await open(k.path, 'r');
      await fh.close();
    }
  }
  ops += 64;
}
await cache.close();
process.stdout.write(`${ops}\n`);
