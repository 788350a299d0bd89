// One rank of snapIndex.test.ts (torchrun-style RANK / WORLD_SIZE / LOCAL_*): reads its share of an
// epoch of two streams, each a Parquet index table whose rows name JPEGs, PNGs and mp4 clips: one
// on a faulty HTTP server (HTTP_INDEX), one in s3rver behind a SigV4-verifying proxy (S3_INDEX,
// S3_ENDPOINT). A row is decoded by imageClassification or videoClip as its `kind` column says,
// broken rows skipped. Every CHECKPOINT_EVERY batches it writes a checkpoint to OUT atomically
// (its state, the ids read so far, the rows skipped, the largest cache use seen); after every batch
// it prints a progress line (JSON: samples read, samples at the last checkpoint, the batch's ids,
// the cache use) for the parent, which may SIGKILL it at any point. RESUME names a checkpoint to
// start from. At the end of the epoch it writes OUT once more.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createFetchEngine, getDriver, s3Driver } from '@streams/downloader';
import { imageClassification, videoClip } from '@streams/transforms';
import { StreamingDataset } from '../src/index.js';

const env = process.env;
const out = env.OUT!;
const checkpointEvery = Number(env.CHECKPOINT_EVERY ?? 1e9);
const SIZE = 16;
const CLIP = { frames: 16, fps: 10, size: [32, 32] as [number, number] };

/** What a rank saves: the checkpoint, and at the end the whole epoch. */
export interface SnapRankOut {
  state: ReturnType<StreamingDataset['stateDict']>;
  /** Global sample ids read (streams laid end to end). */
  ids: number[];
  skipped: { stream: string; id: number; sample: number; code: string; url?: string }[];
  maxCache: number;
}

/** One progress line on stdout. */
export interface SnapProgress {
  read: number;
  checkpoint: number;
  ids: number[];
  cache: number;
}

const resume = env.RESUME
  ? (JSON.parse(readFileSync(env.RESUME, 'utf8')) as SnapRankOut)
  : undefined;
const s3 = s3Driver({
  endpoint: env.S3_ENDPOINT!,
  credentials: { accessKeyId: env.S3_KEY!, secretAccessKey: env.S3_SECRET! },
  region: 'us-east-1',
  forcePathStyle: true,
});
const image = imageClassification({ size: SIZE, imageField: 'url', labelField: 'label' });
const video = videoClip({ ...CLIP, videoField: 'url' });
const ds = await StreamingDataset.open({
  streams: [
    { remote: env.HTTP_INDEX!, name: 'http' },
    { remote: env.S3_INDEX!, name: 's3' },
  ],
  format: 'table',
  sizeColumn: 'size',
  hashColumn: 'sha256',
  cacheDir: env.CACHE_DIR!,
  cacheLimit: env.CACHE_LIMIT!,
  seed: 5,
  batchSize: 8,
  predownload: 64,
  // Enough attempts that no good row fails under 20% faults (0.2^9 per row), with short backoffs:
  // a row whose declared size or digest is wrong is retried to the end (it could be a cut or
  // damaged transfer). A body cut by a clean close is only noticed by the stall timer (30 s by
  // default): 500 ms here (a slow but sound transfer cut by it is just retried).
  engine: createFetchEngine({
    maxAttempts: 9,
    backoffBaseMs: 5,
    backoffMaxMs: 50,
    stallTimeoutMs: 500,
    driverFor: (url) => (url.startsWith('s3:') ? s3 : getDriver(url)),
  }),
  decodePolicy: 'skip',
  transform: async (raw, r, call) => {
    const row = Number(raw.row);
    if (raw.kind === 'video') {
      const { video: clip } = await video(raw, r, call);
      if (clip.data.length !== CLIP.frames * 32 * 32 * 3) throw new Error('wrong clip shape');
      return { row, kind: 'video', frames: clip.decodedFrames, want: Number(raw.frames) };
    }
    const x = await image(raw, r, call);
    if (x.image.data.length !== 3 * SIZE * SIZE) throw new Error('wrong image shape');
    return { row, kind: 'image', frames: 0, want: 0 };
  },
});
if (resume) ds.loadStateDict(resume.state);
const ids: number[] = resume ? [...resume.ids] : [];
const skippedBefore = resume?.skipped ?? [];
let maxCache = resume?.maxCache ?? 0;
const save = (): SnapRankOut => ({
  state: ds.stateDict(),
  ids,
  skipped: [
    ...skippedBefore,
    ...ds.skipped().map(({ stream, id, sample, code, url }) => ({ stream, id, sample, code, url })),
  ],
  maxCache,
});
const write = () => {
  writeFileSync(`${out}.tmp`, JSON.stringify(save()));
  renameSync(`${out}.tmp`, out);
};
// Global id of a stream's first row: rows of the http index come first.
const firstId = [0, Number(env.HTTP_ROWS)];
let checkpoint = ids.length;
let batch: number[] = [];
let batches = 0;
for await (const { sample, info } of ds.entries()) {
  maxCache = Math.max(maxCache, ds.metrics().cacheBytesInUse);
  if (info.padding) continue;
  // Checked here, not in the transform: a throw there would only skip the row.
  if (sample.row !== info.id - firstId[info.stream]!)
    throw new Error(`sample ${info.id} of stream ${info.stream} holds row ${sample.row}`);
  if (sample.frames !== sample.want)
    throw new Error(`clip of row ${sample.row}: ${sample.frames} frames, want ${sample.want}`);
  ids.push(info.id);
  batch.push(info.id);
  if (batch.length < 8) continue;
  if (++batches % checkpointEvery === 0) {
    write();
    checkpoint = ids.length;
  }
  const line: SnapProgress = { read: ids.length, checkpoint, ids: batch, cache: maxCache };
  process.stdout.write(`${JSON.stringify(line)}\n`);
  batch = [];
}
write();
const last: SnapProgress = {
  read: ids.length,
  checkpoint: ids.length,
  ids: batch,
  cache: maxCache,
};
process.stdout.write(`${JSON.stringify(last)}\n`);
await ds.close();
await s3.dispose?.();
