// One process of the 4-process hit-path benchmark. Waits until `startAt` (epoch ms), then loops
// for `durationMs` over the given keys, and prints the number of completed operations.
// mode "cache": acquire + release; mode "reference": stat + open + close of the same file.
import { open, stat } from 'node:fs/promises';
import { openCache } from '../src/index.js';

const [mode, dir, keysJson, startAtText, durationText] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
];
const keys = JSON.parse(keysJson) as Array<{ key: string; path: string }>;
const startAt = Number(startAtText);
const durationMs = Number(durationText);
const cache = await openCache({ dir, limit: '1gb' });
const noFill = async () => {
  throw new Error('bench entries are pre-filled');
};
while (Date.now() < startAt) await new Promise((r) => setTimeout(r, 1));
const end = startAt + durationMs;
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
