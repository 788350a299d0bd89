import type { Command } from './commands.js';

/**
 * A subcommand as help lists it. Its module, and the packages it imports (TensorFlow.js, DuckDB,
 * sharp, the cloud SDKs), load only when it runs, so `streams --version` or `streams cat` do not
 * pay for `streams train`. Every import is a literal, so the package-boundary check sees it.
 */
export interface CommandEntry {
  name: string;
  summary: string;
  load(): Promise<Command>;
}

/** Every subcommand, in the order help lists them. */
export const commands: CommandEntry[] = [
  {
    name: 'train',
    summary:
      'Train continual learners on weighted streams from one config file (default: split MNIST).',
    load: async () => (await import('./trainCommand.js')).trainCommand,
  },
  {
    name: 'report',
    summary: "Rebuild a run's report (report.html and PNG charts) from its metrics.jsonl.",
    load: async () => (await import('./reportCommand.js')).reportCommand,
  },
  {
    name: 'bench',
    summary: 'Print the benchmark table from bench-results.json (--run: run pnpm bench first).',
    load: async () => (await import('./benchCommand.js')).benchCommand,
  },
  {
    name: 'cat',
    summary:
      'Print the samples of a dataset as JSON lines (MDS, WebDataset, JSONL/CSV, index tables).',
    load: async () => (await import('./catCommand.js')).catCommand,
  },
  {
    name: 'inspect',
    summary:
      'Show the statistics of a dataset: count, bytes, columns with null counts, label histograms.',
    load: async () => (await import('./inspectCommand.js')).inspectCommand,
  },
  {
    name: 'convert',
    summary: 'Convert a dataset or index (fetching its URL columns) into MDS or WebDataset shards.',
    load: async () => (await import('./convertCommand.js')).convertCommand,
  },
  {
    name: 'index',
    summary:
      'Build a train and a validation index from a DuckDB query (offline), or validate an index and write a cleaned one.',
    load: async () => (await import('./indexCommand.js')).indexCommand,
  },
  {
    name: 'datasets',
    summary: 'List the named datasets: samples, classes, shape, download size, whether local.',
    load: async () => (await import('./datasetsCommand.js')).datasetsCommand,
  },
  {
    name: 'signals',
    summary: 'Draw the STREAMS signals of a dataset over time, without training.',
    load: async () => (await import('./signalsCommand.js')).signalsCommand,
  },
  {
    name: 'setup-tf',
    summary:
      "Build the native TensorFlow backend (tfjs-node) from TensorFlow's Python wheel, then smoke-test it.",
    load: async () => (await import('./setupTfCommand.js')).setupTfCommand,
  },
];
