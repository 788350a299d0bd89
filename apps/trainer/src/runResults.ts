import { join } from 'node:path';
import { clMetrics } from '@streams/cl';
import { StreamsError } from '@streams/core';
import { type MetricsLine, readMetrics } from './metricsLog.js';

type StepLine = Extract<MetricsLine, { type: 'step' }>;
type RunLine = Extract<MetricsLine, { type: 'run' }>;

/** Results after each experience (rows) on each evaluation set (columns), and before any training. */
export interface ResultMatrix {
  /** `rows[i][j]`: accuracy (or loss) on set j after training experience i. */
  rows: number[][];
  /** Results of the untrained model on each set (the FWT baseline). */
  initial?: number[];
}

/**
 * Summary metrics of a result matrix, from @streams/cl's `clMetrics` (Lopez-Paz & Ranzato 2017;
 * forgetting as Chaudhry et al. 2018 and as Avalanche). BWT, FWT and forgetting need one
 * evaluation set per experience (a square matrix); on loss matrices forgetting is the loss increase.
 */
export interface ClSummary {
  /** Mean of the last row: average accuracy, or average loss. */
  average: number;
  bwt: number | null;
  fwt: number | null;
  /** Best earlier result minus the final one, averaged over all but the last experience. */
  forgetting: number | null;
  /** Result right after training minus the final one (Avalanche's forgetting). */
  forgettingInitial: number | null;
}

/** The summary of a result matrix (`metric` loss: lower is better). */
export function summarize(m: ResultMatrix, metric: 'accuracy' | 'loss'): ClSummary {
  const t = m.rows.length;
  const last = m.rows[t - 1] ?? [];
  const average = last.length > 0 ? last.reduce((a, b) => a + b, 0) / last.length : 0;
  const none = { average, bwt: null, fwt: null, forgetting: null, forgettingInitial: null };
  if (t < 2 || !m.rows.every((r) => r.length === t && r.every(Number.isFinite))) return none;
  const c = clMetrics(m.rows, {
    ...(m.initial?.every(Number.isFinite) ? { baseline: m.initial } : {}),
    lowerIsBetter: metric === 'loss',
  });
  return {
    average: c.averageAccuracy,
    bwt: c.bwt,
    fwt: c.fwt,
    forgetting: c.forgetting.max,
    forgettingInitial: c.forgetting.initial,
  };
}

/** One learner's results, gathered from the metrics log. */
export interface LearnerResults {
  name: string;
  description?: string;
  weightsHash?: string;
  trainSeconds?: number;
  checkpointSeconds?: number;
  samples?: number;
  memory?: Extract<MetricsLine, { type: 'learner' }>['memory'];
  matrix: ResultMatrix;
  summary: ClSummary;
  steps: StepLine[];
}

/** A run as its metrics log tells it. */
export interface RunResults {
  dir: string;
  run: RunLine;
  /** What the matrices hold: accuracy, or loss when a learner reconstructs (autoencoders). */
  metric: 'accuracy' | 'loss';
  learners: LearnerResults[];
  finished: boolean;
}

/** Reads `<dir>/metrics.jsonl` into per-learner result matrices, summaries and step series. */
export async function readRun(dir: string): Promise<RunResults> {
  const lines = await readMetrics(join(dir, 'metrics.jsonl'));
  const run = lines.find((l): l is RunLine => l.type === 'run');
  if (!run) {
    throw new StreamsError(
      'STREAMS_INDEX_INVALID',
      `[streams/trainer] ${dir}/metrics.jsonl has no run line`,
      {
        fix: 'give the directory of a streams train run',
      },
    );
  }
  const byName = new Map<string, LearnerResults>();
  const get = (name: string) => {
    let r = byName.get(name);
    if (!r) {
      r = {
        name,
        matrix: { rows: [] },
        summary: summarize({ rows: [] }, 'accuracy'),
        steps: [],
      };
      byName.set(name, r);
    }
    return r;
  };
  const sets = run.evals.length;
  const metric = lines.some((l) => l.type === 'eval' && l.accuracy === null) ? 'loss' : 'accuracy';
  for (const l of lines) {
    if (l.type === 'step') get(l.learner).steps.push(l);
    else if (l.type === 'eval') {
      const m = get(l.learner).matrix;
      const value = metric === 'accuracy' ? l.accuracy! : l.loss;
      if (l.experience < 0) {
        m.initial ??= new Array<number>(sets).fill(Number.NaN);
        m.initial[l.set] = value;
      } else {
        m.rows[l.experience] ??= new Array<number>(sets).fill(Number.NaN);
        m.rows[l.experience]![l.set] = value;
      }
    } else if (l.type === 'learner') {
      Object.assign(get(l.learner), {
        description: l.description,
        weightsHash: l.weightsHash,
        trainSeconds: l.trainSeconds,
        checkpointSeconds: l.checkpointSeconds,
        samples: l.samples,
        memory: l.memory,
      });
    }
  }
  const learners = [...byName.values()];
  for (const r of learners) r.summary = summarize(r.matrix, metric);
  return { dir, run, metric, learners, finished: lines.some((l) => l.type === 'end') };
}
