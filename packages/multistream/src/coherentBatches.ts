import { StreamsError } from '@streams/core';

/** One batch of K slots x T steps; row r continues the sequence of row r of the previous batch. */
export interface CoherentBatch {
  /** Sequence id in each cell, -1 where there is no data. */
  sequence: Int32Array; // [slots, steps]
  /** Position of each cell in its sequence, -1 where there is no data. */
  position: Int32Array; // [slots, steps]
  /** 1 where a sequence starts (the model should reset its state for that row). */
  resetMask: Uint8Array; // [slots, steps]
  /** 1 where the cell holds no data. */
  padMask: Uint8Array; // [slots, steps]
  slots: number;
  steps: number;
}

/** Where {@link coherentBatches} stands: enough to resume exactly. */
export interface CoherentState {
  /** Next entry of `order` to hand to a slot. */
  next: number;
  /** Per slot: the index in `order` of its current sequence (-1: none), and the next position in it. */
  slotEntry: number[];
  slotPosition: number[];
  /** Batches produced. */
  batches: number;
}

export interface CoherentOptions {
  slots: number;
  steps: number;
  /** Resume from a saved state. */
  state?: CoherentState;
}

/**
 * Temporally coherent batches (truncated BPTT over many sequences): sequences are handed to K
 * slots in plan `order`; each batch holds T consecutive items per slot, a finished sequence is
 * followed in the same row by the next one in order (resetMask marks its first item), and rows
 * with nothing left are padded (padMask). Deterministic; `state()` after any batch resumes exactly.
 */
export function coherentBatches(
  lengths: ArrayLike<number>,
  order: ArrayLike<number>,
  options: CoherentOptions,
): { [Symbol.iterator](): Iterator<CoherentBatch>; state(): CoherentState } {
  const { slots: K, steps: T } = options;
  if (!(Number.isInteger(K) && K >= 1) || !(Number.isInteger(T) && T >= 1)) {
    throw new StreamsError(
      'STREAMS_INVALID_CONFIG',
      `[streams/multistream] coherentBatches needs integer slots >= 1 and steps >= 1, got slots ${K}, steps ${T}`,
      {
        fix: 'pass { slots: K, steps: T }',
      },
    );
  }
  const s: CoherentState = options.state
    ? structuredClone(options.state)
    : { next: 0, slotEntry: new Array(K).fill(-1), slotPosition: new Array(K).fill(0), batches: 0 };
  if (s.slotEntry.length !== K) {
    throw new StreamsError(
      'STREAMS_STATE_INVALID',
      `[streams/multistream] coherent state has ${s.slotEntry.length} slots, options say ${K}`,
      {
        fix: 'resume with the same number of slots',
      },
    );
  }
  const exhausted = () => {
    // Empty sequences left at the end of the order must not make an all-padding batch.
    while (s.next < order.length && (lengths[order[s.next]!] ?? 0) <= 0) s.next++;
    return s.next >= order.length && s.slotEntry.every((e) => e < 0);
  };
  function* iterate(): Generator<CoherentBatch> {
    while (!exhausted()) {
      const sequence = new Int32Array(K * T).fill(-1); // [K, T]
      const position = new Int32Array(K * T).fill(-1); // [K, T]
      const resetMask = new Uint8Array(K * T); // [K, T]
      const padMask = new Uint8Array(K * T); // [K, T]
      // Time outer, rows inner: at each step the free rows take the next sequences in plan order.
      for (let t = 0; t < T; t++) {
        for (let r = 0; r < K; r++) {
          const cell = r * T + t;
          // Hand the next sequence (skipping empty ones) to a free row.
          while (s.slotEntry[r]! < 0 && s.next < order.length) {
            const entry = s.next++;
            if ((lengths[order[entry]!] ?? 0) > 0) {
              s.slotEntry[r] = entry;
              s.slotPosition[r] = 0;
            }
          }
          const entry = s.slotEntry[r]!;
          if (entry < 0) {
            padMask[cell] = 1;
            continue;
          }
          const seq = order[entry]!;
          const pos = s.slotPosition[r]!;
          sequence[cell] = seq;
          position[cell] = pos;
          if (pos === 0) resetMask[cell] = 1;
          s.slotPosition[r] = pos + 1;
          if (pos + 1 >= lengths[seq]!) s.slotEntry[r] = -1;
        }
      }
      s.batches++;
      yield { sequence, position, resetMask, padMask, slots: K, steps: T };
    }
  }
  return { [Symbol.iterator]: iterate, state: () => structuredClone(s) };
}

/**
 * How many batches {@link coherentBatches} makes for these sequences, without making them: a
 * free row takes the next sequence in order (lower rows first at equal times), so the last batch
 * holds the latest end of any row. Used to give every rank the same number of batches.
 */
export function coherentBatchCount(
  lengths: ArrayLike<number>,
  order: ArrayLike<number>,
  slots: number,
  steps: number,
): number {
  const free = new Float64Array(slots); // [slots] time at which each row is free
  let end = 0;
  for (let k = 0; k < order.length; k++) {
    const len = lengths[order[k]!] ?? 0;
    if (len <= 0) continue;
    let r = 0;
    for (let q = 1; q < slots; q++) if (free[q]! < free[r]!) r = q;
    free[r] = free[r]! + len;
    end = Math.max(end, free[r]!);
  }
  return Math.ceil(end / steps);
}
