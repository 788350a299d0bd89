// One rank of snapIndex.test.ts (torchrun-style RANK / WORLD_SIZE / LOCAL_*): reads its share of an
// epoch of a Parquet index table whose rows name images on a faulty HTTP server, decoded by the
// imageClassification preset, broken rows skipped. Writes the row ids it read, the rows it skipped,
// its state and the largest cache use it saw to OUT as JSON; STOP_AFTER checkpoints and SIGKILLs.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createFetchEngine } from '@streams/downloader';
import { imageClassification } from '@streams/transforms';
import { StreamingDataset } from '../src/index.js';

const env = process.env;
const out = env.OUT!;
const stopAfter = env.STOP_AFTER ? Number(env.STOP_AFTER) : Number.POSITIVE_INFINITY;
interface Saved {
  state: ReturnType<StreamingDataset['stateDict']>;
  ids: number[];
  skipped: number[];
  maxCache: number;
}
const resume = env.RESUME ? (JSON.parse(readFileSync(env.RESUME, 'utf8')) as Saved) : undefined;
const prep = imageClassification({ size: 16, imageField: 'url', labelField: 'label' });
const ds = await StreamingDataset.open({
  remote: env.INDEX!,
  format: 'table',
  cacheDir: env.CACHE_DIR!,
  cacheLimit: env.CACHE_LIMIT!,
  seed: 5,
  batchSize: 8,
  predownload: 64,
  // Enough attempts that no good row fails under 20% faults (0.2^9 per row), with short backoffs:
  // a row whose declared size is wrong is retried to the end (it could be a cut transfer). A body
  // cut by a clean close is only noticed by the stall timer (30 s by default): 2 s here.
  engine: createFetchEngine({
    maxAttempts: 9,
    backoffBaseMs: 5,
    backoffMaxMs: 50,
    stallTimeoutMs: 2000,
  }),
  decodePolicy: 'skip',
  transform: async (raw, r, call) => {
    const x = await prep(raw, r, call);
    if (x.image.data.length !== 3 * 16 * 16) throw new Error('wrong shape');
    return x.label;
  },
});
if (resume) ds.loadStateDict(resume.state);
const ids: number[] = resume ? [...resume.ids] : [];
const skippedBefore = resume?.skipped ?? [];
let maxCache = resume?.maxCache ?? 0;
const save = () => ({
  state: ds.stateDict(),
  ids,
  skipped: [...skippedBefore, ...ds.skipped().map((s) => s.id)],
  maxCache,
});
let k = 0;
for await (const { info } of ds.entries()) {
  if (!info.padding) ids.push(info.id);
  maxCache = Math.max(maxCache, ds.metrics().cacheBytesInUse);
  if (++k === stopAfter) {
    // Checkpoint atomically, then die without any cleanup (pins, downloads in flight and all).
    writeFileSync(`${out}.tmp`, JSON.stringify(save()));
    renameSync(`${out}.tmp`, out);
    process.kill(process.pid, 'SIGKILL');
  }
}
writeFileSync(out, JSON.stringify(save()));
await ds.close();
