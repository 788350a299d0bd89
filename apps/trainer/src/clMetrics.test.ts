import { describe, expect, it } from 'vitest';
import { summarize } from './clMetrics.js';

describe('CL summary metrics', () => {
  it('computes average accuracy, BWT, FWT and forgetting of a square matrix', () => {
    const s = summarize({
      rows: [
        [0.9, 0.1, 0.0],
        [0.5, 0.8, 0.2],
        [0.3, 0.6, 0.7],
      ],
      initial: [0.1, 0.1, 0.1],
    });
    expect(s.averageAccuracy).toBeCloseTo((0.3 + 0.6 + 0.7) / 3);
    expect(s.bwt).toBeCloseTo((0.3 - 0.9 + (0.6 - 0.8)) / 2);
    expect(s.fwt).toBeCloseTo((0.1 - 0.1 + (0.2 - 0.1)) / 2);
    expect(s.forgetting).toBeCloseTo((0.9 - 0.3 + (0.8 - 0.6)) / 2);
  });

  it('gives only the average when experiences and evaluation sets do not pair up', () => {
    expect(
      summarize({
        rows: [
          [0.5, 0.7],
          [0.6, 0.8],
          [0.4, 0.9],
        ],
      }),
    ).toEqual({
      averageAccuracy: 0.65,
      bwt: null,
      fwt: null,
      forgetting: null,
    });
  });
});
