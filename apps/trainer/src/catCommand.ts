import { StreamsError } from '@streams/core';
import { getFormat, openDataset, sampleToJsonLine } from '@streams/index';
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
  limit: { type: 'number', description: 'print at most this many samples' },
  offset: { type: 'number', description: 'skip this many samples first', default: 0 },
  columns: { type: 'string', description: 'comma-separated columns to print (default: all)' },
  validate: { type: 'boolean', description: 'check shard hashes listed in index.json' },
  jsonl: { type: 'boolean', description: 'one JSON object per line (the default and only output)' },
  ...SOURCE_FLAGS,
  ...REMOTE_FLAGS,
  ...CACHE_FLAGS,
  ...QUIET_FLAG,
} satisfies Command['flags'];

/** `streams cat`: one JSON object per sample, in dataset order. */
export async function runCat(
  positionals: string[],
  f: Record<string, unknown>,
  io: CommandIo,
): Promise<number> {
  const url = datasetArg(positionals, 'cat');
  const limit = countFlag(f.limit, 'limit');
  const offset = countFlag(f.offset, 'offset') ?? 0;
  await configureRemote(f);
  await using bytes = await commandSource(url, f, io.signal);
  const columns = listFlag(f.columns);
  await using ds = await openDataset(url, {
    ...sourceOptions(f, io),
    source: bytes.source,
    columns,
    validateHashes: f.validate === true,
  });
  if (f.validate === true && !getFormat(ds.format).validatesHashes)
    throw new StreamsError(
      'STREAMS_INVALID_CONFIG',
      `[streams/trainer] --validate checks the shard hashes an index lists, and a ${ds.format} dataset lists none`,
      {
        url,
        fix: 'drop --validate (index tables: "streams index validate" checks their size and hash columns)',
      },
    );
  // Columns a format knows only from its samples (JSONL, WebDataset) are checked against what was read.
  const unknown = new Set(
    (columns ?? []).filter((c) => !ds.dataset.columns.some((known) => known.name === c)),
  );
  const out = new LineWriter(io.out);
  const end = limit === undefined ? undefined : offset + limit;
  const all = ds.numSamples === undefined ? undefined : Math.max(0, ds.numSamples - offset);
  const total = all === undefined ? limit : Math.min(all, limit ?? all);
  const bar = new ProgressBar(io.err, 'cat', { quiet: f.quiet === true });
  let n = 0;
  for await (const sample of ds.samples({ start: offset, end, signal: io.signal })) {
    if (!(await out.write(sampleToJsonLine(sample)))) break;
    bar.update(++n, total, 0);
    if (unknown.size > 0) for (const c of Object.keys(sample)) unknown.delete(c);
  }
  if (unknown.size > 0 && !out.closed)
    throw new StreamsError(
      'STREAMS_INVALID_CONFIG',
      `[streams/trainer] --columns names ${[...unknown].map((c) => `"${c}"`).join(', ')}, which ${n === 0 ? 'no sample has' : `none of the ${n} samples read has`}`,
      {
        url,
        fix: `choose among ${ds.dataset.columns.map((c) => c.name).join(', ') || 'the columns "streams inspect" lists'}`,
      },
    );
  // A reader that left early (`| head`) gets no summary line on the terminal it shares.
  if (out.closed) bar.stop();
  else bar.done(n, total ?? n, 0);
  return 0;
}

export const catCommand: Command = {
  name: 'cat',
  usage: 'streams cat <dataset-url> [--limit N] [--offset K] [--columns a,b]',
  args: ['dataset-url'],
  flags,
  run: ({ positionals, flags: f, io }) => runCat(positionals, f, io),
};
