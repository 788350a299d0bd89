// Child process for cache.test.ts and keepBytes.test.ts: fills argv[3] from argv[4] into the cache
// at argv[2] through downloadToCache (keeping up to argv[5] bytes in memory), says FILLED, and keeps
// the entry pinned until killed.
import { openCache } from '@streams/cache';
import { downloadToCache } from '../src/downloadToCache.js';
import { createFetchEngine } from '../src/fetchEngine.js';

const [dir, key, url, keep] = process.argv.slice(2) as [string, string, string, string?];
const cache = await openCache({ dir, limit: '10mb' });
const handle = await downloadToCache(cache, key, url, {
  engine: createFetchEngine({ seed: 1 }),
  keepBytes: keep === undefined ? undefined : Number(keep),
});
process.stdout.write(`FILLED ${handle.size}\n`);
setInterval(() => {}, 1000); // holds the pin until killed
