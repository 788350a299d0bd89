import { rng } from '@streams/core';
import { describe, expect, it } from 'vitest';
import { GroupedSampler } from './groupedSampler.js';

describe('GroupedSampler', () => {
  it('without replacement, a pass draws every example exactly once, then left is 0', () => {
    const groupOf = Uint32Array.from({ length: 100 }, (_, i) => i % 7); // [examples]
    const s = new GroupedSampler(groupOf, 7, rng(3, 'test'), false);
    const logits = Float64Array.from({ length: 7 }, (_, g) => g); // [groups]
    const seen = new Set<number>();
    for (let k = 0; k < 100; k++) {
      s.setLogits(logits, 1);
      seen.add(s.drawOne());
    }
    expect(seen.size).toBe(100);
    expect(s.left).toBe(0);
    s.refill();
    expect(s.left).toBe(100);
  });

  it('with replacement, groups are drawn in proportion to size x exp(logit / T)', () => {
    const groupOf = Uint32Array.from({ length: 30 }, (_, i) => (i < 10 ? 0 : 1)); // [examples]
    const s = new GroupedSampler(groupOf, 2, rng(5, 'test'), true);
    s.setLogits(Float64Array.of(Math.log(4), 0), 1); // masses 10*4 : 20*1 = 2 : 1
    let first = 0;
    const draws = 30_000;
    for (let k = 0; k < draws; k++) if (s.drawOne() < 10) first++;
    expect(first / draws).toBeCloseTo(2 / 3, 1);
  });

  it('take and putBack move one example out of and into its group', () => {
    const s = new GroupedSampler(new Uint32Array(5), 1, rng(1, 'test'), false);
    s.take(2);
    s.take(2); // twice is once
    expect(s.left).toBe(4);
    s.putBack(2);
    s.putBack(2);
    expect(s.left).toBe(5);
  });
});
