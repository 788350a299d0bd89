import type { BackendInfo } from '@streams/cl';
import Table from 'cli-table3';
import { type RunResults, readRun } from './runResults.js';

/** The backend in one line, as the progress header, the summary and the report show it. */
export function describeBackend(b: BackendInfo): string {
  const tf = b.tensorflowVersion ? `, TensorFlow ${b.tensorflowVersion}` : '';
  const simd = b.name === 'wasm' ? (b.simd ? ', SIMD' : ', no SIMD') : '';
  return `${b.name} (${b.package}@${b.version}${tf}, ${b.device}, ${b.threads} thread${b.threads === 1 ? '' : 's'}${simd})`;
}

/** A result as printed: accuracy in percent, loss as is; '-' when missing. */
export function formatResult(x: number | null | undefined, metric: RunResults['metric']): string {
  if (x === null || x === undefined || Number.isNaN(x)) return '-';
  return metric === 'accuracy' ? (100 * x).toFixed(1) : x.toPrecision(4);
}

/** The name of what a run's matrices hold, with its unit. */
export function metricLabel(metric: RunResults['metric']): string {
  return metric === 'accuracy' ? 'accuracy %' : 'loss';
}

/** Prints each learner's result matrix (rows: after experience i; columns: evaluation sets) and its summary. */
export async function printSummary(dir: string, out: NodeJS.WritableStream): Promise<void> {
  const r = await readRun(dir);
  const f = (x: number | null | undefined) => formatResult(x, r.metric);
  out.write(`backend: ${describeBackend(r.run.backend)}\n`);
  for (const l of r.learners) {
    const table = new Table({
      head: [`${l.name}: ${metricLabel(r.metric)}`, ...r.run.evals.map((_, j) => `set ${j + 1}`)],
      style: { head: [], border: [] },
    });
    l.matrix.rows.forEach((row, i) => {
      table.push([`after exp ${i + 1} (${r.run.experiences[i] ?? ''})`, ...row.map(f)]);
    });
    out.write(`${table.toString()}\n`);
    const s = l.summary;
    const average =
      r.metric === 'accuracy'
        ? `average accuracy ${f(s.average)}%`
        : `average loss ${f(s.average)}`;
    out.write(
      `${l.name}: ${average}, BWT ${f(s.bwt)}, FWT ${f(s.fwt)}, forgetting ${f(s.forgetting)}${l.weightsHash ? `, weights sha256 ${l.weightsHash.slice(0, 16)}` : ''}\n\n`,
    );
  }
}
