import { describe, expect, it } from 'vitest';
import {
  apportion,
  constantSchedule,
  linearSchedule,
  piecewiseSchedule,
  scheduledBatch,
} from './schedule.js';

describe('schedules', () => {
  it('constant, piecewise and linear weights', () => {
    expect(constantSchedule([1, 3]).weightsAt(99)).toEqual([1, 3]);
    const p = piecewiseSchedule([
      { from: 0, weights: [1, 0] },
      { from: 10, weights: [0, 1] },
    ]);
    expect(p.weightsAt(9)).toEqual([1, 0]);
    expect(p.weightsAt(10)).toEqual([0, 1]);
    const l = linearSchedule([
      { step: 0, weights: [1, 0] },
      { step: 100, weights: [0, 1] },
    ]);
    expect(l.weightsAt(-5)).toEqual([1, 0]);
    expect(l.weightsAt(25)).toEqual([0.75, 0.25]);
    expect(l.weightsAt(500)).toEqual([0, 1]);
  });

  it('rejects malformed schedules naming the field', () => {
    expect(() => constantSchedule([-1])).toThrow(/constantSchedule weights/);
    expect(() => piecewiseSchedule([{ from: 5, weights: [1] }])).toThrow(/step 0/);
    expect(() =>
      linearSchedule([
        { step: 0, weights: [1] },
        { step: 0, weights: [1] },
      ]),
    ).toThrow(/keyframes\[1\]/);
  });

  it('apportions whole samples by largest remainder', () => {
    expect(apportion([1, 1, 1], 10)).toEqual([4, 3, 3]);
    expect(apportion([0.75, 0.25], 8)).toEqual([6, 2]);
    expect(() => apportion([0, 0], 4)).toThrow(/all schedule weights are 0/);
  });

  it('a linear ramp moves global batches from one stream to the other', () => {
    const s = linearSchedule([
      { step: 0, weights: [1, 0] },
      { step: 10, weights: [0, 1] },
    ]);
    const cursors = [0, 0];
    const shares: number[] = [];
    for (let t = 0; t <= 10; t++) {
      const batch = scheduledBatch(s, t, 10, cursors, (stream, k) => stream * 1000 + k);
      shares.push(Array.from(batch).filter((id) => id >= 1000).length);
    }
    expect(shares).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(cursors).toEqual([55, 55]);
  });
});
