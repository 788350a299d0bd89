import Table from 'cli-table3';
import { readRun } from './runResults.js';

const pct = (x: number | null | undefined) =>
  x === null || x === undefined || Number.isNaN(x) ? '-' : `${(100 * x).toFixed(1)}`;

/** Prints each learner's accuracy matrix (rows: after experience i; columns: evaluation sets) and its summary. */
export async function printSummary(dir: string, out: NodeJS.WritableStream): Promise<void> {
  const r = await readRun(dir);
  for (const l of r.learners) {
    const table = new Table({
      head: [`${l.name}: accuracy %`, ...r.run.evals.map((_, j) => `set ${j + 1}`)],
      style: { head: [], border: [] },
    });
    l.matrix.rows.forEach((row, i) => {
      table.push([`after exp ${i + 1} (${r.run.experiences[i] ?? ''})`, ...row.map(pct)]);
    });
    out.write(`${table.toString()}\n`);
    const s = l.summary;
    out.write(
      `${l.name}: average accuracy ${pct(s.averageAccuracy)}%, BWT ${pct(s.bwt)}, FWT ${pct(s.fwt)}, forgetting ${pct(s.forgetting)}${l.weightsHash ? `, weights sha256 ${l.weightsHash.slice(0, 16)}` : ''}\n\n`,
    );
  }
}
