import { isStreamsError, Rng, rng } from '@streams/core';
import { describe, expect, it } from 'vitest';
import type { Batch } from './batch.js';
import { MemoryBuffer } from './memoryBuffer.js';

/** `n` samples of 3 inputs; row i has x = [start + i, 0, 0] and class `cls(i)`. */
function rows(
  n: number,
  start: number,
  cls: (i: number) => number,
  weight?: (i: number) => number,
): Batch {
  const x = new Float32Array(n * 3); // [n, 3]
  for (let i = 0; i < n; i++) x[i * 3] = start + i;
  const b: Batch = { x, y: Int32Array.from({ length: n }, (_, i) => cls(i)) };
  if (weight) b.weight = Float32Array.from({ length: n }, (_, i) => weight(i));
  return b;
}

describe('MemoryBuffer', () => {
  it('reservoir: bounded, uniform over everything seen, deterministic under a seed', () => {
    const fill = (seed: number) => {
      const m = new MemoryBuffer({ size: 200 });
      const r = rng(seed, 'mem');
      m.add(
        rows(1000, 0, () => 0),
        1000,
        0,
        r,
      );
      m.add(
        rows(1000, 1000, () => 1),
        1000,
        1,
        r,
      );
      return m;
    };
    const m = fill(1);
    const rep = m.report();
    expect(rep).toMatchObject({ policy: 'reservoir', capacity: 200, size: 200, seen: 2000 });
    // Each half of the stream keeps about half the slots (binomial sd ~ 6.3 at p = 1/2).
    expect(rep.perExperience[0]).toBeGreaterThan(70);
    expect(rep.perExperience[1]).toBeGreaterThan(70);
    expect(rep.bytes).toBe(200 * 4 * (3 + 1 + 3));
    expect(fill(1).getState()).toEqual(m.getState());
    expect(fill(2).getState().arrays.x).not.toEqual(m.getState().arrays.x);
  });

  it('holds to maxBytes and says when one sample cannot fit', () => {
    const m = new MemoryBuffer({ size: 1000, maxBytes: 28 * 10 + 5 });
    m.add(
      rows(50, 0, () => 0),
      50,
      0,
      rng(1),
    );
    expect(m.report().capacity).toBe(10);
    expect(m.bytes()).toBeLessThanOrEqual(28 * 10 + 5);
    const tiny = new MemoryBuffer({ size: 10, maxBytes: 8 });
    try {
      tiny.add(
        rows(1, 0, () => 0),
        1,
        0,
        rng(1),
      );
      expect.unreachable();
    } catch (err) {
      expect(isStreamsError(err, 'STREAMS_INVALID_CONFIG')).toBe(true);
      expect(String(err)).toMatch(/raise maxBytes to at least 28/);
    }
  });

  it('class-balanced: equal quotas per class, also when classes arrive one after another', () => {
    const m = new MemoryBuffer({ size: 40, policy: 'classBalanced' });
    const r = rng(3);
    for (let c = 0; c < 4; c++)
      m.add(
        rows(100, c * 100, () => c),
        100,
        c,
        r,
      );
    expect(m.report().perClass).toEqual({ 0: 10, 1: 10, 2: 10, 3: 10 });
    const greedy = new MemoryBuffer({ size: 40, policy: 'classBalanced', greedy: true });
    greedy.add(
      rows(100, 0, (i) => i % 2),
      100,
      0,
      r,
    );
    greedy.add(
      rows(100, 0, (i) => 2 + (i % 2)),
      100,
      1,
      r,
    );
    expect(greedy.report().perClass).toEqual({ 0: 10, 1: 10, 2: 10, 3: 10 });
  });

  it('greedy class-balanced: a task-incremental label is a class of its task, so later tasks get in', () => {
    // Two tasks whose heads both use labels 0 and 1 (split-MNIST's task-incremental form).
    const m = new MemoryBuffer({ size: 40, policy: 'classBalanced', greedy: true });
    const r = rng(4);
    for (const task of [0, 1]) {
      const b = rows(100, task * 1000, (i) => i % 2);
      b.task = new Int32Array(100).fill(task); // [100]
      m.add(b, 100, task, r);
    }
    expect(m.report().perClass).toEqual({ 0: 20, 1: 20 });
    const all = m.all()!;
    const tasks = Array.from(all.batch.task!.subarray(0, all.n));
    // Ten of each (task, label): the first task does not keep the whole memory.
    expect(tasks.filter((t) => t === 1)).toHaveLength(20);
    expect(tasks.filter((t) => t === 0)).toHaveLength(20);
  });

  it('class ring: the last perClass samples of each class in each experience', () => {
    const m = new MemoryBuffer({ size: 40, policy: 'classRing', perClass: 3 });
    const r = rng(9);
    // Experience 0: 20 rows alternating classes 0/1 (x = 0..19); experience 1: classes 0/1 again (x = 100..119).
    m.add(
      rows(20, 0, (i) => i % 2),
      20,
      0,
      r,
    );
    m.add(
      rows(20, 100, (i) => i % 2),
      20,
      1,
      r,
    );
    const xs = (filter: { experience: number }) => {
      const got = m.all(filter)!;
      return Array.from({ length: got.n }, (_, i) => got.batch.x[i * 3]!).sort((a, b) => a - b);
    };
    // The newest three of each class: class 0 -> 14, 16, 18; class 1 -> 15, 17, 19.
    expect(xs({ experience: 0 })).toEqual([14, 15, 16, 17, 18, 19]);
    expect(xs({ experience: 1 })).toEqual([114, 115, 116, 117, 118, 119]);
    expect(m.report()).toMatchObject({ policy: 'classRing', size: 12, perClass: { 0: 6, 1: 6 } });
    // Restored state keeps the ring position: the next class-0 row replaces the oldest (114).
    const copy = new MemoryBuffer({ size: 40, policy: 'classRing', perClass: 3 });
    const { meta, arrays } = m.getState();
    copy.setState(meta, arrays);
    copy.add(
      rows(1, 200, () => 0),
      1,
      1,
      r,
    );
    const got = copy.all({ experience: 1 })!;
    const after = Array.from({ length: got.n }, (_, i) => got.batch.x[i * 3]!).sort(
      (a, b) => a - b,
    );
    expect(after).toEqual([115, 116, 117, 118, 119, 200]);
    expect(() =>
      new MemoryBuffer({ size: 4, policy: 'classRing' }).add(
        { x: new Float32Array(3), y: new Float32Array([0.5]) },
        1,
        0,
        r,
      ),
    ).toThrow(/needs class ids/);
  });

  it('per-experience quotas: equal shares, capped by perExperience', () => {
    const r = rng(4);
    const even = new MemoryBuffer({ size: 30, policy: 'perExperience' });
    const capped = new MemoryBuffer({ size: 30, policy: 'perExperience', perExperience: 5 });
    for (let e = 0; e < 3; e++) {
      even.add(
        rows(50, e * 50, () => 0),
        50,
        e,
        r,
      );
      capped.add(
        rows(50, e * 50, () => 0),
        50,
        e,
        r,
      );
    }
    expect(even.report().perExperience).toEqual({ 0: 10, 1: 10, 2: 10 });
    expect(capped.report().perExperience).toEqual({ 0: 5, 1: 5, 2: 5 });
    expect(even.experiences()).toEqual([0, 1, 2]);
    // Past experiences only: nothing from experience 2 when drawing before it.
    const past = even.all({ before: 2 })!;
    expect(past.n).toBe(20);
    for (let i = 0; i < past.n; i++) expect(past.batch.x[i * 3]).toBeLessThan(100);
    expect(even.sample(5, r, { experience: 1 })!.n).toBe(5);
    expect(even.sample(5, r, { before: 0 })).toBeNull();
  });

  it('weighted reservoir: inclusion follows the sample weights, and kept samples weigh 1', () => {
    const m = new MemoryBuffer({ size: 100, policy: 'weightedReservoir' });
    // Alternating heavy (9) and light (1) samples, 1000 each.
    m.add(
      rows(
        2000,
        0,
        (i) => i % 2,
        (i) => (i % 2 === 0 ? 9 : 1),
      ),
      2000,
      0,
      rng(5),
    );
    const rep = m.report();
    expect(rep.perClass[0]).toBeGreaterThan(80);
    expect(m.all()!.batch.weight!.every((w) => w === 1)).toBe(true);
    const plain = new MemoryBuffer({ size: 100 });
    plain.add(
      rows(
        10,
        0,
        () => 0,
        () => 3,
      ),
      10,
      0,
      rng(5),
    );
    expect(plain.all()!.batch.weight!.every((w) => w === 3)).toBe(true);
  });

  it('restores its state exactly and continues as the original would', () => {
    const a = new MemoryBuffer({ size: 20, policy: 'classBalanced' });
    const ra = rng(6);
    a.add(
      rows(50, 0, (i) => i % 3),
      50,
      0,
      ra,
    );
    const s = a.getState();
    const b = new MemoryBuffer({ size: 20, policy: 'classBalanced' });
    const copies = Object.fromEntries(Object.entries(s.arrays).map(([k, v]) => [k, v.slice()]));
    b.setState(JSON.parse(JSON.stringify(s.meta)), copies);
    const rb = Rng.fromState(ra.getState());
    a.add(
      rows(30, 100, (i) => i % 4),
      30,
      1,
      ra,
    );
    b.add(
      rows(30, 100, (i) => i % 4),
      30,
      1,
      rb,
    );
    expect(b.getState()).toEqual(a.getState());
  });

  it('rejects a class-balanced memory without class ids and samples of another shape', () => {
    const m = new MemoryBuffer({ size: 5, policy: 'classBalanced' });
    expect(() => m.add({ x: new Float32Array(6), y: new Float32Array(2) }, 2, 0, rng(1))).toThrow(
      /class ids/,
    );
    const r = new MemoryBuffer({ size: 5 });
    r.add(
      rows(2, 0, () => 0),
      2,
      0,
      rng(1),
    );
    expect(() => r.add({ x: new Float32Array(8), y: new Int32Array(2) }, 2, 0, rng(1))).toThrow(
      /does not fit/,
    );
    expect(() => new MemoryBuffer({ size: 0 })).toThrow(/positive integer/);
    expect(() => new MemoryBuffer({ size: 5, policy: 'fifo' as never })).toThrow(
      /unknown memory policy/,
    );
  });
});
