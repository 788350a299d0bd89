// StreamingDataset through the real `imageClassification` preset of @streams/transforms: JPEGs
// written with sharp into a local MDS dataset (`jpeg` column), decoded and augmented per sample
// with the rng the dataset derives from (seed, epoch, sample).
import { join } from 'node:path';
import { isStreamsError, world as worldLayout } from '@streams/core';
import { MdsWriter, openMdsDataset } from '@streams/index';
import {
  type ImageClassificationSample,
  type ImageTensor,
  imageClassification,
} from '@streams/transforms';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamingDataset, type StreamingDatasetOptions } from '../src/index.js';
import { tempDir } from './fixtures.js';

const world = worldLayout({ env: {}, rank: 0, worldSize: 1 });

const N = 24;
const BROKEN = 13; // the label of the truncated JPEG in the broken dataset
const SIZE = 16;

/** A noisy 48x36 RGB JPEG, different per label, so crops and flips change the pixels. */
async function jpegOf(label: number): Promise<Buffer> {
  const width = 48;
  const height = 36;
  const px = Buffer.alloc(width * height * 3); // [H, W, 3]
  let x = (label + 1) * 2654435761;
  for (let k = 0; k < px.length; k++) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    // A gradient plus noise: smooth enough to survive JPEG, varied enough to show every crop.
    px[k] = ((k % (width * 3)) * 2 + (x & 63) + label * 5) & 0xff;
  }
  return sharp(px, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
}

async function writeImages(out: string, broken: boolean): Promise<void> {
  // Small shards, so samples come from several shards in a shuffled order.
  const w = new MdsWriter({ out, columns: { jpeg: 'jpeg', label: 'int' }, sizeLimit: 8000 });
  for (let label = 0; label < N; label++) {
    let bytes: Uint8Array = await jpegOf(label);
    if (broken && label === BROKEN) bytes = bytes.subarray(0, Math.floor(bytes.length / 3));
    await w.write({ jpeg: bytes, label });
  }
  await w.finish();
}

type Out = ImageClassificationSample;

describe('StreamingDataset + @streams/transforms imageClassification', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let good: string;
  let bad: string;
  beforeAll(async () => {
    tmp = await tempDir();
    good = join(tmp.dir, 'good');
    bad = join(tmp.dir, 'bad');
    await writeImages(good, false);
    await writeImages(bad, true);
  });
  afterAll(() => tmp.cleanup());

  const open = (dir: string, extra: Partial<StreamingDatasetOptions<Out>> = {}) =>
    StreamingDataset.open<Out>({
      streams: [{ local: dir, name: 'imgs' }],
      world,
      seed: 11,
      shuffleBlockSize: 8,
      transform: imageClassification({ train: true, size: SIZE, colorJitter: 0.2 }),
      ...extra,
    });

  const readAll = async (ds: StreamingDataset<Out>, limit = Number.POSITIVE_INFINITY) => {
    const out: Array<{ label: number; image: ImageTensor }> = [];
    for await (const s of ds) {
      out.push({ label: Number(s.label), image: s.image });
      if (out.length >= limit) break;
    }
    return out;
  };

  const same = (a: ImageTensor, b: ImageTensor) =>
    a.data.length === b.data.length && a.data.every((v, i) => v === b.data[i]);

  it('yields [3, H, W] float32 images and labels, every sample once per epoch', async () => {
    await using ds = await open(good);
    const out = await readAll(ds);
    expect(out.map((s) => s.label).sort((x, y) => x - y)).toEqual([...Array(N).keys()]);
    for (const { image } of out) {
      expect(image.shape).toEqual([3, SIZE, SIZE]);
      expect(image.dtype).toBe('float32');
      expect(image.layout).toBe('CHW');
      expect(image.data).toBeInstanceOf(Float32Array);
      expect(image.data.length).toBe(3 * SIZE * SIZE);
      expect(image.data.every(Number.isFinite)).toBe(true);
    }
  });

  it('augmentations are a function of the dataset seed: same across runs and across a resume', async () => {
    await using a = await open(good);
    await using b = await open(good);
    const x = await readAll(a);
    const y = await readAll(b);
    expect(x.map((s) => s.label)).toEqual(y.map((s) => s.label));
    expect(x.every((s, k) => same(s.image, y[k]!.image))).toBe(true);

    // Another seed: another order and other crops of the same image.
    await using c = await open(good, { seed: 12 });
    const z = new Map((await readAll(c)).map((s) => [s.label, s.image]));
    expect(x.some((s) => !same(s.image, z.get(s.label)!))).toBe(true);

    // The next epoch draws other augmentations for the same sample.
    const next = new Map((await readAll(a)).map((s) => [s.label, s.image]));
    expect(x.some((s) => !same(s.image, next.get(s.label)!))).toBe(true);

    // Stop after 9 samples, save, resume in a new dataset: the same samples, the same pixels.
    await using first = await open(good);
    const head = await readAll(first, 9);
    const state = first.stateDict();
    await using second = await open(good);
    second.loadStateDict(state);
    const tail = await readAll(second);
    const resumed = [...head, ...tail];
    expect(resumed.map((s) => s.label)).toEqual(x.map((s) => s.label));
    expect(resumed.every((s, k) => same(s.image, x[k]!.image))).toBe(true);
  });

  it('a truncated JPEG stops the epoch with its coordinates under the default error policy', async () => {
    const mds = await openMdsDataset(bad);
    const where = mds.locate(BROKEN);
    const shard = mds.shards[where.shard]!.basename;
    await mds.close();
    await using ds = await open(bad);
    const seen: number[] = [];
    let error: unknown;
    try {
      for await (const s of ds) seen.push(Number(s.label));
    } catch (e) {
      error = e;
    }
    expect(isStreamsError(error, 'STREAMS_DECODE_FAILED')).toBe(true);
    const e = error as { stream: unknown; shard: unknown; sample: unknown; message: string };
    expect(e.stream).toBe('imgs');
    expect(e.shard).toBe(shard);
    expect(e.sample).toBe(where.index);
    expect(e.message).toContain(`stream imgs, shard ${shard}, sample ${where.index}`);
    expect(seen).not.toContain(BROKEN);
    expect(seen.length).toBeLessThan(N);
  });

  it('the skip policy drops the broken sample, counts it, and keeps the rest and the state exact', async () => {
    await using clean = await open(good);
    const all = await readAll(clean);
    await using ds = await open(bad, { decodePolicy: 'skip' });
    const out = await readAll(ds);
    expect(out.map((s) => s.label)).toEqual(all.map((s) => s.label).filter((l) => l !== BROKEN));
    // The other samples' pixels do not depend on the broken one.
    out.forEach((s) => {
      expect(same(s.image, all.find((t) => t.label === s.label)!.image)).toBe(true);
    });
    expect(ds.metrics().skipped).toBe(1);
    expect(ds.metrics().samples).toBe(N - 1);
    expect(ds.epoch).toBe(1);

    // Batches keep their slots: the batch that held the broken sample is one shorter.
    await using batched = await open(bad, { decodePolicy: 'skip', batchSize: 4 });
    const sizes: number[] = [];
    const labels: number[] = [];
    for await (const batch of batched.batches()) {
      sizes.push(batch.length);
      labels.push(...batch.map((s) => Number(s.label)));
    }
    const at = all.findIndex((s) => s.label === BROKEN);
    const expected = [4, 4, 4, 4, 4, 4].map((b, k) => (Math.floor(at / 4) === k ? b - 1 : b));
    expect(sizes).toEqual(expected);
    expect(labels).toEqual(all.map((s) => s.label).filter((l) => l !== BROKEN));
  });
});
