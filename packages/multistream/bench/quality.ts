// Shuffle quality and locality of each algorithm (printed for the README): 1,000,000 samples in
// 1,000 shards of 1,000, one canonical node, shuffle block 262,144 (the default).
//  - |r| position vs shard: Pearson correlation between a sample's position in the epoch and its
//    shard index (0 = no trace of the storage order; 1 = sequential).
//  - shards per 1k window: distinct shards among 1,000 consecutive samples (download locality:
//    lower means fewer shards must be on disk at once).
//  - max span: the widest stretch of positions over which one shard's samples are spread.
import { buildEpochPlan, SHUFFLE_ALGORITHMS } from '../src/index.js';

const shards = 1000;
const per = 1000;
const n = shards * per;
console.log('algorithm  |r| pos~shard  shards/1k window  max shard span');
for (const algo of [...SHUFFLE_ALGORITHMS, 'sequential'] as const) {
  const plan = buildEpochPlan(
    {
      streams: [{ shardSizes: new Array(shards).fill(per) }],
      choose: [n],
      seed: 7,
      shuffleAlgorithm: algo === 'sequential' ? 'py1e' : algo,
      order: algo === 'sequential' ? 'sequential' : 'shuffle',
    },
    0,
  );
  let sx = 0,
    sy = 0,
    sxx = 0,
    syy = 0,
    sxy = 0;
  const first = new Float64Array(shards).fill(-1);
  const last = new Float64Array(shards);
  plan.ids.forEach((id, pos) => {
    const shard = Math.floor(id / per);
    sx += pos;
    sy += shard;
    sxx += pos * pos;
    syy += shard * shard;
    sxy += pos * shard;
    if (first[shard]! < 0) first[shard] = pos;
    last[shard] = pos;
  });
  const r = (n * sxy - sx * sy) / Math.sqrt((n * sxx - sx * sx) * (n * syy - sy * sy));
  let windows = 0;
  let distinct = 0;
  for (let p = 0; p + 1000 <= n; p += 1000, windows++) {
    distinct += new Set(Array.from(plan.ids.subarray(p, p + 1000), (id) => Math.floor(id / per)))
      .size;
  }
  let span = 0;
  for (let s = 0; s < shards; s++) span = Math.max(span, last[s]! - first[s]! + 1);
  console.log(
    `${algo.padEnd(10)} ${Math.abs(r).toFixed(4).padStart(13)}  ${(distinct / windows).toFixed(1).padStart(16)}  ${String(span).padStart(14)}`,
  );
}
