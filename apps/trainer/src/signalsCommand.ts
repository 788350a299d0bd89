import { writeFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { StreamsError } from '@streams/core';
import { StreamsDataset } from '@streams/multistream';
import type { Command, CommandIo } from './commands.js';
import { LineWriter } from './dataIo.js';

const flags = {
  dataset: { type: 'string', description: 'a registered dataset name (streams datasets)' },
  steps: { type: 'number', description: 'steps of the schedule to draw', default: 1000 },
  out: { type: 'string', description: 'output file, .png or .svg', default: 'signals.png' },
  domain: {
    type: 'string',
    description: 'domain column whose signals are drawn',
    default: 'label',
  },
  values: { type: 'string', description: 'comma-separated domain values to draw (default: all)' },
  seed: { type: 'number', description: 'seed of the waveform', default: 0 },
  'batch-size': { type: 'number', description: 'examples drawn per step', default: 16 },
  duration: { type: 'number', description: 'steps between new targets', default: 100 },
  split: { type: 'string', description: 'dataset split (train or test)' },
  'data-dir': {
    type: 'string',
    description: 'where named datasets are materialized (default STREAMS_DATA_DIR)',
  },
} satisfies Command['flags'];

/** `streams signals`: draws a STREAMS schedule of a dataset without training. */
export async function runSignals(f: Record<string, unknown>, io: CommandIo): Promise<number> {
  if (typeof f.dataset !== 'string') {
    throw new StreamsError('STREAMS_INVALID_CONFIG', '[streams/trainer] signals needs --dataset', {
      fix: 'name a dataset: streams signals --dataset fashion-mnist (see streams datasets)',
    });
  }
  const out = typeof f.out === 'string' ? f.out : 'signals.png';
  const ext = extname(out).toLowerCase();
  if (ext !== '.png' && ext !== '.svg') {
    throw new StreamsError(
      'STREAMS_INVALID_CONFIG',
      `[streams/trainer] --out ${out}: the chart is written as .png or .svg`,
      { fix: 'end the --out file name in .png or .svg' },
    );
  }
  const steps = Number(f.steps ?? 1000);
  if (!(Number.isInteger(steps) && steps >= 1)) {
    throw new StreamsError('STREAMS_INVALID_CONFIG', `[streams/trainer] --steps ${f.steps}`, {
      fix: 'give --steps a whole number of steps, 1 or more',
    });
  }
  const domain = typeof f.domain === 'string' ? f.domain : 'label';
  const ds = await StreamsDataset.open(f.dataset, {
    seed: Number(f.seed ?? 0),
    batchSize: Number(f['batch-size'] ?? 16),
    duration: Number(f.duration ?? 100),
    dataDir: typeof f['data-dir'] === 'string' ? f['data-dir'] : undefined,
    datasetOptions: typeof f.split === 'string' ? { split: f.split } : undefined,
    domains: [domain],
    signal: io.signal,
    progress: io.err,
  });
  // Values given on the command line are strings; domain values of label columns are numbers.
  const known = ds.waveform.values.filter((v) => v.column === domain).map((v) => v.value);
  const values =
    typeof f.values === 'string'
      ? f.values.split(',').map((s) => known.find((k) => String(k) === s.trim()) ?? s.trim())
      : undefined;
  const chart = await ds.visualize(domain, values, { to: steps, png: ext === '.png' });
  await writeFile(out, ext === '.png' ? chart.png! : chart.svg);
  await new LineWriter(io.out).write(
    `${out}: signals of ${domain} over ${steps.toLocaleString('en-US')} steps of ${f.dataset}`,
  );
  return 0;
}

export const signalsCommand: Command = {
  name: 'signals',
  usage:
    'streams signals --dataset fashion-mnist [--steps 1000] [--out signals.png] [--domain label] [--values 0,3]',
  required: ['dataset'],
  flags,
  run: ({ flags: f, io }) => runSignals(f, io),
};
