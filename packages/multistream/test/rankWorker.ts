// One rank of a job, started by multiprocess.test.ts with torchrun-style RANK / WORLD_SIZE /
// LOCAL_RANK / LOCAL_WORLD_SIZE. Reads its share of the epoch of an HTTP-hosted MDS dataset through
// its node's cache directory and writes what it read (and its state) to OUT as JSON.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { StreamingDataset } from '../src/index.js';

const env = process.env;
const out = env.OUT!;
const stopAfter = env.STOP_AFTER ? Number(env.STOP_AFTER) : Number.POSITIVE_INFINITY;
const resume = env.RESUME
  ? (JSON.parse(readFileSync(env.RESUME, 'utf8')) as {
      state: ReturnType<StreamingDataset['stateDict']>;
      uids: number[];
    })
  : undefined;

const ds = await StreamingDataset.open<{ uid: number; payload: Uint8Array }>({
  remote: env.REMOTE!,
  cacheDir: env.CACHE_DIR!,
  cacheLimit: env.CACHE_LIMIT ?? '10mb',
  seed: 17,
  numCanonicalNodes: 4,
  batchSize: 4,
  predownload: 16,
});
if (resume) ds.loadStateDict(resume.state);
const uids: number[] = resume ? [...resume.uids] : [];
let k = 0;
for await (const { sample, info } of ds.entries()) {
  if (!info.padding) uids.push(sample.uid);
  if (++k === stopAfter) {
    // Save the checkpoint atomically, then die without any cleanup (pins and all).
    writeFileSync(`${out}.tmp`, JSON.stringify({ state: ds.stateDict(), uids }));
    renameSync(`${out}.tmp`, out);
    process.kill(process.pid, 'SIGKILL');
  }
}
writeFileSync(out, JSON.stringify({ state: ds.stateDict(), uids, metrics: ds.metrics() }));
await ds.close();
