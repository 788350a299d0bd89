import { formatBytes } from '@streams/core';
import { type DatasetListing, listDatasets } from '@streams/multistream';
import type { Command, CommandIo } from './commands.js';
import { LineWriter } from './dataIo.js';

const flags = {
  json: { type: 'boolean', description: 'print the listing as JSON' },
  'data-dir': {
    type: 'string',
    description: 'where named datasets are materialized (default STREAMS_DATA_DIR)',
  },
  counts: { type: 'boolean', description: 'also count samples per class of local datasets' },
} satisfies Command['flags'];

/** `streams datasets`: the registry with size, classes, shape and whether each is local. */
export async function runDatasets(f: Record<string, unknown>, io: CommandIo): Promise<number> {
  const listing = await listDatasets({
    dataDir: typeof f['data-dir'] === 'string' ? f['data-dir'] : undefined,
    withClassCounts: f.counts === true,
  });
  const out = new LineWriter(io.out);
  await out.write(f.json ? JSON.stringify(listing) : formatListing(listing));
  return 0;
}

/** The human table of `streams datasets`. */
export function formatListing(listing: DatasetListing[]): string {
  const head = ['name', 'samples', 'classes', 'shape', 'download', 'local', 'description'];
  const rows = listing.map((d) => [
    d.name,
    d.numSamples.toLocaleString('en-US'),
    String(d.numClasses),
    `[${d.shape.join(', ')}]`,
    d.bytes > 0 ? formatBytes(d.bytes) : '-',
    d.local ? 'yes' : d.available ? 'no (downloads on first use)' : 'no',
    d.description + (d.classCounts ? ` (per class: ${d.classCounts.join(', ')})` : ''),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [fmt(head), fmt(widths.map((w) => '-'.repeat(w))), ...rows.map(fmt)].join('\n');
}

export const datasetsCommand: Command = {
  name: 'datasets',
  usage: 'streams datasets [--json] [--counts] [--data-dir DIR]',
  flags,
  run: ({ flags: f, io }) => runDatasets(f, io),
};
