// Continual-learning summary metrics over an accuracy matrix. A stand-in for the metrics of
// @streams/cl (accuracyMatrix, averageAccuracy, bwt, fwt, forgetting): the cl ones replace these
// when the learners are wired in.

/** Accuracy after each experience (rows) on each evaluation set (columns), and before any training. */
export interface AccuracyMatrix {
  /** `rows[i][j]`: accuracy on set j after training experience i. */
  rows: number[][];
  /** Accuracy of the untrained model on each set (the FWT baseline), when measured. */
  initial?: number[];
}

/** Summary metrics (Lopez-Paz & Ranzato 2017; forgetting as Chaudhry et al. 2018). */
export interface ClSummary {
  averageAccuracy: number;
  /** Backward transfer: mean over sets j < T of R[T][j] - R[j][j] (negative = forgetting). */
  bwt: number | null;
  /** Forward transfer: mean over sets j > 1 of R[j-1][j] - initial[j]. */
  fwt: number | null;
  /** Mean over sets j < T of the best earlier accuracy minus the final one. */
  forgetting: number | null;
}

/** Averages accuracy, BWT, FWT and forgetting; BWT/FWT/forgetting need one set per experience. */
export function summarize(m: AccuracyMatrix): ClSummary {
  const t = m.rows.length;
  const last = m.rows[t - 1] ?? [];
  const mean = (xs: number[]) => (xs.length > 0 ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
  const averageAccuracy = mean(last) ?? 0;
  const square = t > 1 && m.rows.every((r) => r.length === t);
  if (!square) return { averageAccuracy, bwt: null, fwt: null, forgetting: null };
  const earlier = Array.from({ length: t - 1 }, (_, j) => j);
  const bwt = mean(earlier.map((j) => last[j]! - m.rows[j]![j]!));
  const fwt = m.initial ? mean(earlier.map((j) => m.rows[j]![j + 1]! - m.initial![j + 1]!)) : null;
  const forgetting = mean(
    earlier.map((j) => Math.max(...m.rows.slice(0, t - 1).map((r) => r[j]!)) - last[j]!),
  );
  return { averageAccuracy, bwt, fwt, forgetting };
}
