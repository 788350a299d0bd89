import { describe, expect, it } from 'vitest';
import { RunRows } from './runRows.js';

/** Runs of rows `[from, to)` of arrays, loaded one after another. */
function runs(...arrays: number[][]) {
  let k = 0;
  return new RunRows<number>(async () => {
    const a = arrays[k++];
    if (a === undefined) return undefined;
    if (a.includes(-1)) throw new Error('bad run');
    return { row: (i) => a[i] as number, from: 0, to: a.length };
  });
}

describe('RunRows', () => {
  it('hands out the rows of every run in order, skipping empty runs', async () => {
    const out: number[] = [];
    for await (const v of runs([1, 2], [], [3], [4, 5])) out.push(v);
    expect(out).toEqual([1, 2, 3, 4, 5]);
  });

  it('calls made before the previous one settled get the next rows in order', async () => {
    const it = runs([1], [2, 3], [4]);
    const all = await Promise.all([it.next(), it.next(), it.next(), it.next(), it.next()]);
    expect(all.map((r) => r.value)).toEqual([1, 2, 3, 4, undefined]);
    expect(all.map((r) => r.done)).toEqual([false, false, false, false, true]);
  });

  it('an error ends the iteration; return() ends it early', async () => {
    const bad = runs([1], [-1], [2]);
    expect((await bad.next()).value).toBe(1);
    await expect(bad.next()).rejects.toThrow('bad run');
    expect((await bad.next()).done).toBe(true);
    const early = runs([1, 2, 3]);
    expect((await early.next()).value).toBe(1);
    await early.return();
    expect((await early.next()).done).toBe(true);
  });
});
