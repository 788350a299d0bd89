import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildEpochPlan, locateSample, type PlanConfig, streamOfSample } from './epochPlan.js';
import { partitionPlan } from './partition.js';
import { SHUFFLE_ALGORITHMS, shuffleUnits } from './shuffle.js';

const sorted = (a: ArrayLike<number>) => Array.from(a).sort((x, y) => x - y);

/** Every rank group of a world reads from `start` to the end; returns the non-padding ids read. */
function readAll(
  order: Uint32Array,
  worldSize: number,
  replication: number,
  batchSize: number,
  start: number,
  dropLast = false,
) {
  const out: number[] = [];
  let perRank = -1;
  for (let rank = 0; rank < worldSize; rank += replication) {
    const s = partitionPlan(order, { worldSize, rank, replication, batchSize, start, dropLast });
    if (perRank >= 0) expect(s.ids.length).toBe(perRank); // equal share per rank
    perRank = s.ids.length;
    s.ids.forEach((id, i) => {
      if (!s.padding[i]) out.push(id);
    });
  }
  return out;
}

const streamsArb = fc.array(
  fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 6 }),
  {
    minLength: 1,
    maxLength: 3,
  },
);

const configArb = fc.record({
  shards: streamsArb,
  seed: fc.integer({ min: 0, max: 1000 }),
  algorithm: fc.constantFrom(...SHUFFLE_ALGORITHMS),
  order: fc.constantFrom(
    'shuffle' as const,
    'fixed' as const,
    'sequential' as const,
    'interleave' as const,
  ),
  canonical: fc.integer({ min: 1, max: 8 }),
  block: fc.integer({ min: 1, max: 64 }),
});

type Cfg = ReturnType<typeof configArb.generate>['value'];

const toConfig = (c: Cfg): PlanConfig => ({
  streams: c.shards.map((shardSizes) => ({ shardSizes })),
  choose: c.shards.map((s) => s.reduce((a, b) => a + b, 0)),
  seed: c.seed,
  shuffleAlgorithm: c.algorithm,
  order: c.order,
  numCanonicalNodes: c.canonical,
  shuffleBlockSize: c.block,
  interleaveRun: 3,
});

describe('shuffleUnits', () => {
  it('every algorithm returns a permutation cut into canonical segments', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 20 }),
        fc.constantFrom(...SHUFFLE_ALGORITHMS),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 100 }),
        (units, algorithm, C, blockSize) => {
          const total = units.reduce((a, b) => a + b, 0);
          const s = shuffleUnits(units, {
            algorithm,
            numCanonicalNodes: C,
            seed: 1,
            epoch: 2,
            blockSize,
          });
          expect(sorted(s.order)).toEqual(Array.from({ length: total }, (_, i) => i));
          expect(s.bounds.length).toBe(C + 1);
          expect(s.bounds[0]).toBe(0);
          expect(s.bounds[C]).toBe(total);
          for (let c = 0; c < C; c++)
            expect(s.bounds[c + 1]! - s.bounds[c]!).toBeLessThanOrEqual(Math.ceil(total / C));
        },
      ),
    );
  });

  it('py1e keeps each shard within a window of about the block size', () => {
    const units = Array.from({ length: 200 }, () => 100); // 20,000 samples in shards of 100
    const s = shuffleUnits(units, {
      algorithm: 'py1e',
      numCanonicalNodes: 1,
      seed: 5,
      epoch: 0,
      blockSize: 1000,
    });
    const first = new Map<number, number>();
    const last = new Map<number, number>();
    s.order.forEach((id, pos) => {
      const shard = Math.floor(id / 100);
      if (!first.has(shard)) first.set(shard, pos);
      last.set(shard, pos);
    });
    for (const [shard, f] of first) expect(last.get(shard)! - f).toBeLessThan(1250);
    // Any 100 consecutive positions touch few shards (download locality), far fewer than 100.
    let maxShards = 0;
    for (let p = 0; p + 100 <= s.order.length; p += 100) {
      maxShards = Math.max(
        maxShards,
        new Set(Array.from(s.order.subarray(p, p + 100), (id) => Math.floor(id / 100))).size,
      );
    }
    expect(maxShards).toBeLessThanOrEqual(20);
  });
});

describe('buildEpochPlan + partitionPlan', () => {
  it('covers the epoch exactly once across random worlds (ranks x workers x replication)', () => {
    fc.assert(
      fc.property(
        configArb,
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 3 }),
        fc.boolean(),
        (c, groups, replication, batchSize, workers, dropLast) => {
          const plan = buildEpochPlan(toConfig(c), 3);
          const total = c.shards.flat().reduce((a, b) => a + b, 0);
          // No weights: each underlying sample exactly once in the global order.
          expect(sorted(plan.ids)).toEqual(Array.from({ length: total }, (_, i) => i));
          const worldSize = groups * replication;
          const seen: number[] = [];
          for (let rank = 0; rank < worldSize; rank++) {
            const whole = partitionPlan(plan.ids, {
              worldSize,
              rank,
              replication,
              batchSize,
              dropLast,
            });
            // Workers split the rank's batches and together read exactly the rank's slice.
            const parts: number[] = [];
            for (let worker = 0; worker < workers; worker++) {
              const w = partitionPlan(plan.ids, {
                worldSize,
                rank,
                replication,
                batchSize,
                numWorkers: workers,
                worker,
                dropLast,
              });
              parts.push(...w.ids);
            }
            expect(sorted(parts)).toEqual(sorted(whole.ids));
            if (rank % replication === 0)
              whole.ids.forEach((id, i) => {
                if (!whole.padding[i]) seen.push(id);
              });
            else
              expect([...whole.ids]).toEqual([
                ...partitionPlan(plan.ids, {
                  worldSize,
                  rank: rank - (rank % replication),
                  replication,
                  batchSize,
                  dropLast,
                }).ids,
              ]);
          }
          const dropped = dropLast ? total % (groups * batchSize) : 0;
          expect(seen.length).toBe(total - dropped);
          expect(new Set(seen).size).toBe(seen.length);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('is deterministic and changes with the epoch only in shuffle mode', () => {
    fc.assert(
      fc.property(configArb, (c) => {
        const cfg = toConfig(c);
        const a = buildEpochPlan(cfg, 1).ids;
        expect([...buildEpochPlan(cfg, 1).ids]).toEqual([...a]);
        if (c.order === 'fixed' || c.order === 'sequential')
          expect([...buildEpochPlan(cfg, 2).ids]).toEqual([...a]);
      }),
      { numRuns: 60 },
    );
    const big = { streams: [{ shardSizes: [500, 500] }], choose: [1000], seed: 1 };
    expect([...buildEpochPlan(big, 0).ids]).not.toEqual([...buildEpochPlan(big, 1).ids]);
    expect([...buildEpochPlan({ ...big, order: 'sequential' }, 0).ids]).toEqual(
      Array.from({ length: 1000 }, (_, i) => i),
    );
  });

  it('resumes at any cut point under any world size: nothing replayed, nothing skipped (elastic)', () => {
    fc.assert(
      fc.property(
        configArb,
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 3 }),
        fc.nat(),
        (c, d1, d2, b1, b2, cut) => {
          const plan = buildEpochPlan(toConfig(c), 0);
          const E = plan.ids.length;
          // First run: D1 groups each read k samples, then the job stops and saves start + k * D1.
          const k = cut % (Math.floor(E / d1) + 1);
          const consumed: number[] = [];
          for (let rank = 0; rank < d1; rank++) {
            const s = partitionPlan(plan.ids, { worldSize: d1, rank, batchSize: b1 });
            consumed.push(...s.ids.subarray(0, k));
          }
          const saved = k * d1;
          // Second run: another world continues from the saved position.
          const rest = readAll(plan.ids, d2, 1, b2, saved);
          expect(sorted([...consumed, ...rest])).toEqual(sorted(plan.ids));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('weighted streams: exact per-stream counts, and mixed shares within statistical bounds', () => {
    const cfg: PlanConfig = {
      streams: [{ shardSizes: Array(20).fill(500) }, { shardSizes: Array(10).fill(100) }],
      choose: [6000, 4000], // stream 1 upsampled 4x
      seed: 11,
      shuffleAlgorithm: 'naive',
    };
    const plan = buildEpochPlan(cfg, 0);
    const counts = [0, 0];
    for (const id of plan.ids) counts[streamOfSample(plan, id)]! += 1;
    expect(counts).toEqual([6000, 4000]);
    // Every window of 1000 positions: share of stream 1 ~ Binomial-ish(1000, 0.4); 5 sigma bounds.
    const sigma = Math.sqrt(1000 * 0.4 * 0.6);
    for (let p = 0; p + 1000 <= plan.ids.length; p += 1000) {
      let n = 0;
      for (let i = p; i < p + 1000; i++) n += streamOfSample(plan, plan.ids[i]!);
      expect(Math.abs(n - 400)).toBeLessThan(5 * sigma);
    }
    expect(locateSample(plan, 10_050)).toEqual({ stream: 1, shard: 0, index: 50 });
  });

  it('stratified batching gives every global batch the same stream mix', () => {
    const plan = buildEpochPlan(
      {
        streams: [{ shardSizes: [300, 300] }, { shardSizes: [200] }],
        choose: [600, 200],
        seed: 2,
        batching: 'stratified',
        globalBatchSize: 8,
      },
      0,
    );
    expect(plan.ids.length % 8).toBe(0);
    for (let p = 0; p < plan.ids.length; p += 8) {
      let ones = 0;
      for (let i = p; i < p + 8; i++) ones += streamOfSample(plan, plan.ids[i]!);
      expect(ones).toBe(2); // 25% of 8
    }
    expect(plan.ids.length + plan.dropped).toBe(800);
  });

  it('perStream batching gives every global batch a single stream, streams interleaved', () => {
    const plan = buildEpochPlan(
      {
        streams: [{ shardSizes: [64] }, { shardSizes: [30] }],
        choose: [64, 30],
        seed: 2,
        batching: 'perStream',
        globalBatchSize: 4,
      },
      0,
    );
    expect(plan.ids.length).toBe(64 + 28);
    expect(plan.dropped).toBe(2);
    const batchStreams: number[] = [];
    for (let p = 0; p < plan.ids.length; p += 4) {
      const s = new Set(Array.from(plan.ids.subarray(p, p + 4), (id) => streamOfSample(plan, id)));
      expect(s.size).toBe(1);
      batchStreams.push([...s][0]!);
    }
    expect(batchStreams.slice(0, 10)).toContain(1);
  });

  it('interleave order reads runs of K per stream, in proportion', () => {
    const plan = buildEpochPlan(
      {
        streams: [{ shardSizes: [40] }, { shardSizes: [20] }],
        choose: [40, 20],
        seed: 1,
        order: 'interleave',
        interleaveRun: 5,
      },
      0,
    );
    const runs: number[] = [];
    for (let p = 0; p < 60; p += 5) {
      const s = new Set(Array.from(plan.ids.subarray(p, p + 5), (id) => streamOfSample(plan, id)));
      expect(s.size).toBe(1);
      runs.push([...s][0]!);
    }
    expect(runs).toEqual([0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0]);
  });

  it('pads an uneven tail from the start of the epoch so every rank reads as much', () => {
    const order = Uint32Array.from({ length: 10 }, (_, i) => 100 + i);
    const r2 = partitionPlan(order, { worldSize: 4, rank: 2, batchSize: 2 });
    expect([...r2.ids]).toEqual([102, 106, 100, 104]); // positions 2, 6, 10 -> pad(0), 14 -> pad(4)
    expect([...r2.padding]).toEqual([0, 0, 1, 1]);
    const d = partitionPlan(order, { worldSize: 4, rank: 2, batchSize: 2, dropLast: true });
    expect([...d.ids]).toEqual([102, 106]);
    expect(d.dropped).toBe(2);
  });
});
