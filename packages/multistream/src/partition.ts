import { StreamsError } from '@streams/core';

/** Where one reader (rank, worker) sits in the job, for partitioning the epoch's global order. */
export interface PartitionOptions {
  /** Number of processes. */
  worldSize: number;
  rank: number;
  /** N consecutive ranks read the same samples (tensor/sequence-parallel groups). Default 1. */
  replication?: number;
  /** Per-rank batch size; a rank's batches go round robin to its workers. Default 1. */
  batchSize?: number;
  /** Workers per rank (each reads whole batches). Default 1. */
  numWorkers?: number;
  /** Which worker of the rank; omit to get the whole rank's slice. */
  worker?: number;
  /** Global samples already consumed this epoch (the resume point). Default 0. */
  start?: number;
  /**
   * Uneven tail: `false` (default) pads the last global batch with samples from the start of the
   * epoch (marked `padding`) so every rank reads the same count; `true` drops the incomplete batch.
   */
  dropLast?: boolean;
}

/** One reader's share of an epoch. */
export interface PlanSlice {
  /** Global sample ids in reading order. */
  ids: Uint32Array; // [count]
  /** Global position (in the epoch's global order) of each slot; positions >= the epoch length are padding. */
  positions: Float64Array; // [count]
  /** 1 where the slot repeats a sample to pad an uneven tail. */
  padding: Uint8Array; // [count]
  /** Data-parallel width: global positions advance by this much per sample a rank reads. */
  width: number;
  /** The rank's data-parallel index (rank / replication). */
  group: number;
  /** Samples every rank reads from `start` to the end of the epoch. */
  perRank: number;
  /** Global positions in [start, epoch length) that no rank reads (dropLast). */
  dropped: number;
}

/**
 * Splits the epoch's global order among ranks and workers. Rank group d reads global positions
 * start + d, start + d + D, start + d + 2D, ... (D = worldSize / replication), so after every
 * rank has read k samples the job has consumed exactly positions [start, start + k*D): that is
 * the whole resume state, and it means the same thing under any world size (elastic resume).
 * Batch j of a rank is its samples [j*b, (j+1)*b); worker w reads the batches j with j mod W = w.
 */
export function partitionPlan(order: Uint32Array, o: PartitionOptions): PlanSlice {
  const replication = o.replication ?? 1;
  const b = o.batchSize ?? 1;
  const W = o.numWorkers ?? 1;
  const start = o.start ?? 0;
  const E = order.length;
  const check = (ok: boolean, field: string, what: string, fix: string) => {
    if (!ok) {
      throw new StreamsError('STREAMS_INVALID_CONFIG', `[streams/multistream] ${field} ${what}`, {
        fix,
      });
    }
  };
  check(
    Number.isInteger(o.worldSize) && o.worldSize >= 1,
    'worldSize',
    `must be an integer >= 1, got ${o.worldSize}`,
    'check the launcher environment',
  );
  check(
    Number.isInteger(o.rank) && o.rank >= 0 && o.rank < o.worldSize,
    'rank',
    `${o.rank} is not in [0, ${o.worldSize})`,
    'check RANK and WORLD_SIZE',
  );
  check(
    Number.isInteger(replication) && replication >= 1 && o.worldSize % replication === 0,
    'replication',
    `${replication} does not divide world size ${o.worldSize}`,
    'make the world size a multiple of replication',
  );
  check(
    Number.isInteger(b) && b >= 1,
    'batchSize',
    `must be an integer >= 1, got ${b}`,
    'set batchSize to a positive integer',
  );
  check(
    Number.isInteger(W) && W >= 1,
    'numWorkers',
    `must be an integer >= 1, got ${W}`,
    'set numWorkers to a positive integer',
  );
  check(
    o.worker === undefined || (Number.isInteger(o.worker) && o.worker >= 0 && o.worker < W),
    'worker',
    `${o.worker} is not in [0, ${W})`,
    'count workers from 0',
  );
  check(
    Number.isSafeInteger(start) && start >= 0 && start <= E,
    'start',
    `${start} is outside the epoch [0, ${E}]`,
    'load a state saved for this dataset',
  );

  const D = o.worldSize / replication;
  const group = Math.floor(o.rank / replication);
  const remaining = E - start;
  const step = D * b;
  const batchesPerRank = o.dropLast ? Math.floor(remaining / step) : Math.ceil(remaining / step);
  const perRank = batchesPerRank * b;
  const dropped = o.dropLast ? remaining - perRank * D : 0;

  // Batches this reader handles: all of them, or every W-th from its worker index.
  const first = o.worker ?? 0;
  const stride = o.worker === undefined ? 1 : W;
  const numBatches = first < batchesPerRank ? Math.ceil((batchesPerRank - first) / stride) : 0;
  const count = numBatches * b;
  const ids = new Uint32Array(count); // [count]
  const positions = new Float64Array(count); // [count]
  const padding = new Uint8Array(count); // [count]
  let i = 0;
  for (let j = first; j < batchesPerRank; j += stride) {
    let p = start + group + j * b * D;
    for (let k = 0; k < b; k++, p += D, i++) {
      positions[i] = p;
      if (p < E) ids[i] = order[p]!;
      else {
        // Pad from the start of the epoch: the first samples of the order repeat, evenly per rank.
        ids[i] = order[(p - E) % E]!;
        padding[i] = 1;
      }
    }
  }
  return { ids, positions, padding, width: D, group, perRank, dropped };
}

/** Global samples consumed once every rank group has read `k` samples from `start`. */
export function globalPosition(start: number, width: number, k: number): number {
  return start + k * width;
}
