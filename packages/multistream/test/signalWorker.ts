// Started by shutdown.test.ts: reads a remote dataset under `await using` with a cache budget far
// below the data, wires SIGTERM to an AbortController as a training script does, says "reading"
// after the first sample and "closed" once the dataset's disposal has returned.
import { StreamingDataset } from '../src/index.js';

const ac = new AbortController();
process.once('SIGTERM', () => ac.abort());
try {
  await using ds = await StreamingDataset.open<{ uid: number }>({
    remote: process.env.REMOTE!,
    cacheDir: process.env.CACHE_DIR!,
    cacheLimit: 300_000,
    predownload: 200,
    world: { rank: 0, worldSize: 1 },
    signal: ac.signal,
  });
  let first = true;
  for await (const _ of ds) {
    if (first) process.stdout.write('reading\n');
    first = false;
  }
  process.stdout.write('finished\n');
} catch (e) {
  process.stdout.write(`${(e as Error).name}\n`);
}
process.stdout.write('closed\n');
