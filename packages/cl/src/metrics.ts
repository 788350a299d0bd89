import { StreamsError } from '@streams/core';
import type { BatchSource } from './batch.js';
import type { ContinualLearner } from './continualLearner.js';

/**
 * Continual-learning metrics on a result matrix `R[i][j]`: the accuracy (or loss, for
 * autoencoders) on experience j after training experience i. All results are plain numbers and
 * objects, for logs and plots.
 */
export type ResultMatrix = readonly (readonly number[])[];

function square(R: ResultMatrix, what: string): number {
  const t = R.length;
  if (t === 0 || R.some((row) => row.length < t)) {
    throw new StreamsError(
      'STREAMS_INVALID_ARGUMENT',
      `[streams/cl] ${what} needs a T x T result matrix (row i: after experience i, column j: experience j)`,
      {
        fix: 'evaluate every experience after each one is trained',
      },
    );
  }
  return t;
}

/** The mean of row `after` over experiences 0..after (default: the last row, all experiences). */
export function averageAccuracy(R: ResultMatrix, after = R.length - 1): number {
  square(R, 'averageAccuracy');
  const row = R[after]!;
  let s = 0;
  for (let j = 0; j <= after; j++) s += row[j]!;
  return s / (after + 1);
}

/** Backward transfer (Lopez-Paz & Ranzato, 2017): mean over j < T-1 of `R[T-1][j] - R[j][j]`. */
export function bwt(R: ResultMatrix): number {
  const t = square(R, 'bwt');
  if (t < 2) return 0;
  let s = 0;
  for (let j = 0; j < t - 1; j++) s += R[t - 1]![j]! - R[j]![j]!;
  return s / (t - 1);
}

/**
 * Forward transfer (Lopez-Paz & Ranzato, 2017): mean over j >= 1 of `R[j-1][j] - b[j]`, with
 * `b[j]` the same model at its random initialization evaluated on experience j.
 */
export function fwt(R: ResultMatrix, baseline: readonly number[]): number {
  const t = square(R, 'fwt');
  if (baseline.length < t) {
    throw new StreamsError(
      'STREAMS_INVALID_ARGUMENT',
      `[streams/cl] fwt needs a baseline per experience (${t}), got ${baseline.length}`,
    );
  }
  if (t < 2) return 0;
  let s = 0;
  for (let j = 1; j < t; j++) s += R[j - 1]![j]! - baseline[j]!;
  return s / (t - 1);
}

/**
 * Average forgetting over experiences 0..T-2, in one of its two common definitions:
 * - `max` (Chaudhry et al., 2018): the best value an experience ever had minus its final value,
 *   `max_{l<T-1} R[l][j] - R[T-1][j]`;
 * - `initial` (Avalanche's forgetting): its value right after it was trained minus its final
 *   value, `R[j][j] - R[T-1][j]` (the negated BWT).
 * `lowerIsBetter` is for loss matrices (autoencoders): then forgetting is the loss increase.
 */
export function forgetting(
  R: ResultMatrix,
  definition: 'max' | 'initial' = 'max',
  options: { lowerIsBetter?: boolean } = {},
): number {
  const t = square(R, 'forgetting');
  if (t < 2) return 0;
  const sign = options.lowerIsBetter ? -1 : 1;
  let s = 0;
  for (let j = 0; j < t - 1; j++) {
    let ref = sign * R[j]![j]!;
    if (definition === 'max') for (let l = j; l < t - 1; l++) ref = Math.max(ref, sign * R[l]![j]!);
    s += ref - sign * R[t - 1]![j]!;
  }
  return s / (t - 1);
}

/** Counts `[classes][classes]`: rows are true classes, columns predicted ones. */
export function confusionMatrix(
  truth: ArrayLike<number>,
  predicted: ArrayLike<number>,
  classes: number,
): number[][] {
  if (truth.length !== predicted.length) {
    throw new StreamsError(
      'STREAMS_INVALID_ARGUMENT',
      `[streams/cl] confusionMatrix got ${truth.length} labels and ${predicted.length} predictions`,
    );
  }
  const m = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i]!;
    const p = predicted[i]!;
    if (t < 0 || t >= classes || p < 0 || p >= classes) {
      throw new StreamsError(
        'STREAMS_INVALID_ARGUMENT',
        `[streams/cl] class ${t < 0 || t >= classes ? t : p} at row ${i} is outside [0, ${classes})`,
      );
    }
    m[t]![p]!++;
  }
  return m;
}

/** Every metric of a result matrix as one plain object. */
export interface ClMetrics {
  matrix: number[][];
  averageAccuracy: number;
  bwt: number;
  fwt: number | null;
  forgetting: { max: number; initial: number };
}

/** All metrics at once; `baseline` (random-init results per experience) enables FWT. */
export function clMetrics(
  R: ResultMatrix,
  options: { baseline?: readonly number[]; lowerIsBetter?: boolean } = {},
): ClMetrics {
  return {
    matrix: R.map((row) => [...row]),
    averageAccuracy: averageAccuracy(R),
    bwt: bwt(R),
    fwt: options.baseline ? fwt(R, options.baseline) : null,
    forgetting: {
      max: forgetting(R, 'max', options),
      initial: forgetting(R, 'initial', options),
    },
  };
}

/** One row of R: the learner's accuracy (classifiers) or loss on each experience's test batches. */
export async function evaluateExperiences(
  learner: ContinualLearner,
  testSets: readonly BatchSource[],
): Promise<number[]> {
  const row: number[] = [];
  for (const set of testSets) {
    const r = await learner.evaluate(set);
    row.push(r.accuracy ?? r.loss);
  }
  return row;
}
