import { rng, StreamsError } from '@streams/core';

/** Sample ids, epoch positions and slots are 32-bit. */
export const MAX_SAMPLES = 0xffffffff;

/** How the samples drawn from a stream change between epochs (MosaicML `sampling_method`). */
export type SamplingMethod = 'balanced' | 'fixed';

/** One stream's resampled epoch: shuffle units (shard repeats) and the sample id of each slot. */
export interface ResampledStream {
  /** Size of each shuffle unit: a full repeat of a shard, or a partial repeat. */
  unitSizes: number[];
  /** Global sample id of each resampled slot, units laid end to end. */
  ids: Uint32Array; // [choose]
  /** True when every sample is taken once, in order: ids[i] = first sample id + i. */
  identity: boolean;
}

/**
 * Up- or down-samples one stream to `choose` samples (MosaicML `resample_streams`): each shard
 * gets its share `floor(shardSamples * choose / streamSamples)` (the shortfall goes to shards
 * picked by a seeded choice), then contributes whole repeats plus a seeded partial repeat.
 * With `sampling: 'fixed'` the seeded choices ignore the epoch, so every epoch draws the same samples.
 */
export function resampleStream(
  shardSizes: readonly number[],
  firstSampleId: number,
  choose: number,
  o: { seed: number; epoch: number; stream: number; sampling: SamplingMethod },
): ResampledStream {
  const samples = shardSizes.reduce((a, b) => a + b, 0);
  const unitSizes: number[] = [];
  if (choose === 0) return { unitSizes, ids: new Uint32Array(0), identity: samples === 0 };
  if (samples === 0) {
    throw new StreamsError(
      'STREAMS_INVALID_CONFIG',
      `[streams/multistream] stream ${o.stream} is empty but ${choose} samples were asked from it`,
      {
        stream: o.stream,
        fix: 'drop its weight or point it at data',
      },
    );
  }
  if (firstSampleId + samples > MAX_SAMPLES || choose > MAX_SAMPLES) {
    throw new StreamsError(
      'STREAMS_NOT_IMPLEMENTED',
      `[streams/multistream] more than 2^32 ${choose > MAX_SAMPLES ? 'samples in an epoch' : 'underlying samples'}`,
      {
        stream: o.stream,
        fix: 'split the dataset into several StreamingDatasets, or draw fewer samples per epoch',
      },
    );
  }
  const ids = new Uint32Array(choose); // [choose]
  const r =
    o.sampling === 'fixed'
      ? rng(o.seed, 'resample', o.stream)
      : rng(o.seed, o.epoch, 'resample', o.stream);
  let perShard: number[];
  if (choose === samples) perShard = [...shardSizes];
  else {
    perShard = shardSizes.map((s) => Math.floor((s * choose) / samples));
    const shortfall = choose - perShard.reduce((a, b) => a + b, 0);
    // Only shards with samples can take an extra one.
    const candidates = shardSizes.flatMap((s, i) => (s > 0 ? [i] : []));
    for (const k of r.sample(candidates.length, Math.min(shortfall, candidates.length))) {
      perShard[candidates[k]!]! += 1;
    }
  }
  let out = 0;
  let shardOffset = firstSampleId;
  for (let shard = 0; shard < shardSizes.length; shard++) {
    const size = shardSizes[shard]!;
    const want = perShard[shard]!;
    const full = size === 0 ? 0 : Math.floor(want / size);
    for (let rep = 0; rep < full; rep++) {
      unitSizes.push(size);
      for (let i = 0; i < size; i++) ids[out++] = shardOffset + i;
    }
    const partial = size === 0 ? 0 : want % size;
    if (partial > 0) {
      unitSizes.push(partial);
      const picked = r.sample(size, partial).sort((a, b) => a - b);
      for (const i of picked) ids[out++] = shardOffset + i;
    }
    shardOffset += size;
  }
  return { unitSizes, ids, identity: choose === samples };
}
