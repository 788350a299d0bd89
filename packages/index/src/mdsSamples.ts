// Reading an MDS dataset in order: the walk over the shards that hold samples [start, end), each
// shard read whole when the caller gets to it, and its samples decoded from the shard's bytes, one
// by one or in arrays. The dataset's random reads of a shard in memory decode with the same step.
import { throwIfAborted } from '@streams/core';
import type { MdsSample, MdsSchema } from './mdsShard.js';
import type { MdsShard } from './parseMdsIndex.js';
import { withWhere } from './withWhere.js';

/** Samples per array yielded by `sampleBatches`. */
const BATCH = 1024;

/** What reading in order needs from its dataset. */
export interface InOrderDataset {
  readonly numSamples: number;
  readonly shards: readonly MdsShard[];
  readonly schema: MdsSchema;
  locate(i: number): { shard: number };
  readShard(shard: number, options?: { signal?: AbortSignal }): Promise<Uint8Array>;
}

/** The samples to read in order: `[start, end)`, clamped to the dataset. */
export interface InOrderOptions {
  start?: number;
  end?: number;
  signal?: AbortSignal;
}

/** Sample `j` of shard `s`, decoded from the whole shard's bytes `buf` (`dv`: a view of them). */
export function decodeShardSample(
  schema: MdsSchema,
  buf: Uint8Array,
  s: MdsShard,
  j: number,
  dv?: DataView,
): MdsSample {
  const view = dv ?? new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const begin = view.getUint32(4 + 4 * j, true);
  const end = view.getUint32(8 + 4 * j, true);
  try {
    return schema.decode(buf, begin, end, view);
  } catch (e) {
    throw withWhere(e, { shard: s.basename, sample: s.firstSample + j });
  }
}

/** Samples `[start, end)` of `ds` in order, reading each shard once. */
export async function* mdsSamples(
  ds: InOrderDataset,
  options: InOrderOptions,
): AsyncGenerator<MdsSample> {
  const schema = ds.schema;
  for await (const { s, buf, dv, from, stop } of shardSpans(ds, options)) {
    for (let j = from; j < stop; j++) yield decodeShardSample(schema, buf, s, j, dv);
  }
}

/** Samples `[start, end)` of `ds` in order, in arrays of up to 1024 (never across shards). */
export async function* mdsSampleBatches(
  ds: InOrderDataset,
  options: InOrderOptions,
): AsyncGenerator<MdsSample[]> {
  const schema = ds.schema;
  for await (const { s, buf, dv, from, stop } of shardSpans(ds, options)) {
    // Small batches: samples the caller drops die young instead of piling up in old space.
    for (let j = from; j < stop; ) {
      const upto = Math.min(stop, j + BATCH);
      const out: MdsSample[] = new Array(upto - j);
      for (let k = 0; j < upto; j++) out[k++] = decodeShardSample(schema, buf, s, j, dv);
      yield out;
    }
  }
}

/**
 * The non-empty shards that hold samples [start, end), each read when the caller gets to it, with
 * the in-shard range [from, stop) to decode: the walk mdsSamples() and mdsSampleBatches() share.
 */
async function* shardSpans(
  ds: InOrderDataset,
  options: InOrderOptions,
): AsyncGenerator<{ s: MdsShard; buf: Uint8Array; dv: DataView; from: number; stop: number }> {
  const start = Math.max(0, options.start ?? 0);
  const end = Math.min(ds.numSamples, options.end ?? ds.numSamples);
  if (start >= end) return;
  let { shard } = ds.locate(start);
  let i = start;
  while (i < end) {
    throwIfAborted(options.signal);
    // i < end <= numSamples: some shard at or after this one holds sample i.
    const s = ds.shards[shard] as MdsShard;
    if (s.samples > 0) {
      const buf = await ds.readShard(shard, options);
      const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
      const stop = Math.min(s.samples, end - s.firstSample);
      const from = i - s.firstSample;
      yield { s, buf, dv, from, stop };
      i += Math.max(0, stop - from);
    }
    shard++;
  }
}
