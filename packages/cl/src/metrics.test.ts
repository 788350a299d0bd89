import { isStreamsError } from '@streams/core';
import { describe, expect, it } from 'vitest';
import { averageAccuracy, bwt, clMetrics, confusionMatrix, forgetting, fwt } from './metrics.js';

// R[i][j]: accuracy on experience j after training experience i.
const R = [
  [0.7, 0.1, 0.2],
  [0.9, 0.8, 0.3],
  [0.6, 0.5, 0.95],
];

describe('continual-learning metrics on a hand-made matrix', () => {
  it('average accuracy over the experiences seen', () => {
    expect(averageAccuracy(R)).toBeCloseTo((0.6 + 0.5 + 0.95) / 3, 12);
    expect(averageAccuracy(R, 1)).toBeCloseTo((0.9 + 0.8) / 2, 12);
    expect(averageAccuracy(R, 0)).toBeCloseTo(0.7, 12);
  });

  it('BWT and FWT', () => {
    expect(bwt(R)).toBeCloseTo((0.6 - 0.7 + (0.5 - 0.8)) / 2, 12);
    expect(fwt(R, [0.1, 0.05, 0.2])).toBeCloseTo((0.1 - 0.05 + (0.3 - 0.2)) / 2, 12);
  });

  it('forgetting in both definitions', () => {
    // max: experience 0 peaked at 0.9 (after experience 1), so 0.9 - 0.6; experience 1: 0.8 - 0.5.
    expect(forgetting(R, 'max')).toBeCloseTo((0.3 + 0.3) / 2, 12);
    // initial: right after training, 0.7 - 0.6 and 0.8 - 0.5.
    expect(forgetting(R, 'initial')).toBeCloseTo((0.1 + 0.3) / 2, 12);
    expect(forgetting(R, 'initial')).toBeCloseTo(-bwt(R), 12);
  });

  it('forgetting on a loss matrix counts loss increases', () => {
    const L = [
      [0.2, 1, 1],
      [0.1, 0.3, 1],
      [0.5, 0.4, 0.2],
    ];
    expect(forgetting(L, 'max', { lowerIsBetter: true })).toBeCloseTo(
      (0.5 - 0.1 + (0.4 - 0.3)) / 2,
      12,
    );
    expect(forgetting(L, 'initial', { lowerIsBetter: true })).toBeCloseTo(
      (0.5 - 0.2 + (0.4 - 0.3)) / 2,
      12,
    );
  });

  it('clMetrics gathers everything as a plain object', () => {
    const m = clMetrics(R, { baseline: [0.1, 0.05, 0.2] });
    expect(JSON.parse(JSON.stringify(m))).toEqual(m);
    expect(m.forgetting.max).toBeCloseTo(0.3, 12);
    expect(m.fwt).toBeCloseTo(0.075, 12);
    expect(clMetrics(R).fwt).toBeNull();
  });

  it('a confusion matrix counts true rows against predicted columns', () => {
    expect(confusionMatrix([0, 0, 1, 2, 2], [0, 1, 1, 2, 0], 3)).toEqual([
      [1, 1, 0],
      [0, 1, 0],
      [1, 0, 1],
    ]);
  });

  it('rejects a matrix that is not T x T and classes out of range', () => {
    expect(() => bwt([[1, 2], [3]])).toThrow(/T x T/);
    expect(() => fwt(R, [0.1])).toThrow(/baseline/);
    try {
      confusionMatrix([0, 3], [0, 1], 3);
      expect.unreachable();
    } catch (err) {
      expect(isStreamsError(err, 'STREAMS_INVALID_ARGUMENT')).toBe(true);
    }
  });
});
