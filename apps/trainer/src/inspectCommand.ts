import { formatBytes } from '@streams/core';
import { type DatasetStats, datasetStats, openDataset } from '@streams/index';
import type { Command } from './commands.js';
import {
  type CommandIo,
  countFlag,
  datasetArg,
  LineWriter,
  listFlag,
  SOURCE_FLAGS,
  sourceOptions,
} from './dataIo.js';
import { ProgressBar, QUIET_FLAG } from './progressBar.js';
import { CACHE_FLAGS, commandSource, configureRemote, REMOTE_FLAGS } from './remoteFlags.js';

const flags = {
  json: { type: 'boolean', description: 'print the statistics as one JSON object' },
  labels: {
    type: 'string',
    description: 'comma-separated columns to histogram whatever their cardinality',
  },
  limit: {
    type: 'number',
    description: 'read at most this many samples (figures then describe a prefix)',
  },
  ...SOURCE_FLAGS,
  ...REMOTE_FLAGS,
  ...CACHE_FLAGS,
  ...QUIET_FLAG,
} satisfies Command['flags'];

/** `streams inspect`: count, bytes, columns with null counts, label histograms. */
export async function runInspect(
  positionals: string[],
  f: Record<string, unknown>,
  io: CommandIo,
): Promise<number> {
  const url = datasetArg(positionals, 'inspect');
  await configureRemote(f);
  await using bytes = await commandSource(url, f, io.signal);
  await using ds = await openDataset(url, {
    ...sourceOptions(f, io),
    source: bytes.source,
  });
  const limit = countFlag(f.limit, 'limit');
  const total =
    ds.numSamples === undefined ? limit : Math.min(ds.numSamples, limit ?? ds.numSamples);
  const bar = new ProgressBar(io.err, 'inspect', { quiet: f.quiet === true });
  const stats = await datasetStats(ds, {
    signal: io.signal,
    labelColumns: listFlag(f.labels),
    limit,
    onProgress: (n) => bar.update(n, total, 0),
  });
  bar.done(stats.count, total ?? stats.count, 0);
  const out = new LineWriter(io.out);
  await out.write(f.json ? JSON.stringify(stats) : formatStats(stats));
  return 0;
}

/** The human table of `streams inspect`. */
export function formatStats(s: DatasetStats): string {
  const lines = [
    `dataset  ${s.url}`,
    `format   ${s.format}`,
    `samples  ${s.count.toLocaleString('en-US')}`,
    ...(s.shards === undefined ? [] : [`shards   ${s.shards.toLocaleString('en-US')}`]),
    `bytes    ${s.totalBytes === undefined ? 'unknown' : `${formatBytes(s.totalBytes)} (${s.totalBytes.toLocaleString('en-US')} B)`}`,
    '',
  ];
  const head = ['column', 'type', 'nulls'];
  const rows = s.columns.map((c) => [c.name, c.type, String(c.nulls)]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  lines.push(fmt(head), fmt(widths.map((w) => '-'.repeat(w))), ...rows.map(fmt));
  const hists = Object.entries(s.histograms);
  if (hists.length > 0) {
    lines.push('', 'label histograms');
    for (const [name, h] of hists) {
      const total = h.reduce((a, x) => a + x.count, 0);
      lines.push(`  ${name} (${h.length} values)`);
      const shown = h.slice(0, 20);
      const vw = Math.max(...shown.map((x) => x.value.length));
      for (const { value, count } of shown) {
        const pct = total === 0 ? 0 : (100 * count) / total;
        const bar = '#'.repeat(Math.max(1, Math.round(pct / 2.5)));
        lines.push(
          `    ${value.padEnd(vw)}  ${String(count).padStart(8)}  ${pct.toFixed(1).padStart(5)}%  ${bar}`,
        );
      }
      if (h.length > shown.length) lines.push(`    ... ${h.length - shown.length} more`);
    }
  }
  return lines.join('\n');
}

export const inspectCommand: Command = {
  name: 'inspect',
  usage: 'streams inspect <dataset-url> [--json] [--labels col] [--limit N]',
  args: ['dataset-url'],
  flags,
  run: ({ positionals, flags: f, io }) => runInspect(positionals, f, io),
};
