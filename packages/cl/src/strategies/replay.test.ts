import { describe, expect, it } from 'vitest';
import type { Batch } from '../batch.js';
import type { StrategyContext } from '../strategy.js';
import { replay } from './replay.js';

// augment and observe read only the experience from the context.
const ctx = { experience: 0 } as StrategyContext;

function batch(n: number, from: number, weight?: number): Batch {
  return {
    x: Float32Array.from({ length: n * 2 }, (_, i) => from + i),
    y: Int32Array.from({ length: n }, (_, i) => (from + i) % 3),
    ...(weight === undefined ? {} : { weight: new Float32Array(n).fill(weight) }),
  };
}

describe('replay', () => {
  it('joins an unweighted batch and a unit-weight draw into an unweighted batch', () => {
    const s = replay({ memorySize: 8 }, 1);
    s.observe!(ctx, batch(4, 0), 4);
    const { batch: joined, n } = s.augment!(ctx, batch(4, 100), 4);
    expect(n).toBe(8);
    expect(joined.weight).toBeUndefined();
    // The stream rows first, then the drawn ones.
    expect(Array.from(joined.x.subarray(0, 8))).toEqual([100, 101, 102, 103, 104, 105, 106, 107]);
    expect(new Set(Array.from(joined.x.subarray(8)))).toEqual(new Set([0, 1, 2, 3, 4, 5, 6, 7]));
  });

  it('keeps the weights when the stream or the memory has any other than 1', () => {
    const weighted = replay({ memorySize: 8 }, 1);
    weighted.observe!(ctx, batch(4, 0, 2), 4);
    // Unweighted stream rows count 1 each, the drawn ones their stored weight.
    expect(Array.from(weighted.augment!(ctx, batch(4, 100), 4).batch.weight ?? [])).toEqual([
      1, 1, 1, 1, 2, 2, 2, 2,
    ]);
    const unitMemory = replay({ memorySize: 8 }, 1);
    unitMemory.observe!(ctx, batch(4, 0), 4);
    expect(Array.from(unitMemory.augment!(ctx, batch(4, 100, 3), 4).batch.weight ?? [])).toEqual([
      3, 3, 3, 3, 1, 1, 1, 1,
    ]);
  });
});
