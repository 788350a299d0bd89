import { join } from 'node:path';
import { StreamsError } from '@streams/core';
import { type AccuracyMatrix, type ClSummary, summarize } from './clMetrics.js';
import { type MetricsLine, readMetrics } from './metricsLog.js';

type StepLine = Extract<MetricsLine, { type: 'step' }>;
type RunLine = Extract<MetricsLine, { type: 'run' }>;

/** One learner's results, gathered from the metrics log. */
export interface LearnerResults {
  name: string;
  description?: string;
  weightsHash?: string;
  trainSeconds?: number;
  samples?: number;
  matrix: AccuracyMatrix;
  summary: ClSummary;
  steps: StepLine[];
}

/** A run as its metrics log tells it. */
export interface RunResults {
  dir: string;
  run: RunLine;
  learners: LearnerResults[];
  finished: boolean;
}

/** Reads `<dir>/metrics.jsonl` into per-learner accuracy matrices, summaries and step series. */
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
        summary: { averageAccuracy: 0, bwt: null, fwt: null, forgetting: null },
        steps: [],
      };
      byName.set(name, r);
    }
    return r;
  };
  const sets = run.evals.length;
  for (const l of lines) {
    if (l.type === 'step') get(l.learner).steps.push(l);
    else if (l.type === 'eval') {
      const m = get(l.learner).matrix;
      if (l.experience < 0) {
        m.initial ??= new Array<number>(sets).fill(Number.NaN);
        m.initial[l.set] = l.accuracy;
      } else {
        m.rows[l.experience] ??= new Array<number>(sets).fill(Number.NaN);
        m.rows[l.experience]![l.set] = l.accuracy;
      }
    } else if (l.type === 'learner') {
      Object.assign(get(l.learner), {
        description: l.description,
        weightsHash: l.weightsHash,
        trainSeconds: l.trainSeconds,
        samples: l.samples,
      });
    }
  }
  const learners = [...byName.values()];
  for (const r of learners) r.summary = summarize(r.matrix);
  return { dir, run, learners, finished: lines.some((l) => l.type === 'end') };
}
