import { openDataset, sampleToJsonLine } from '@streams/index';
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
  await using ds = await openDataset(url, {
    ...sourceOptions(f, io),
    source: bytes.source,
    columns: listFlag(f.columns),
    validateHashes: f.validate === true,
  });
  const out = new LineWriter(io.out);
  const end = limit === undefined ? undefined : offset + limit;
  const all = ds.numSamples === undefined ? undefined : Math.max(0, ds.numSamples - offset);
  const total = all === undefined ? limit : Math.min(all, limit ?? all);
  const bar = new ProgressBar(io.err, 'cat', { quiet: f.quiet === true });
  let n = 0;
  for await (const sample of ds.samples({ start: offset, end, signal: io.signal })) {
    if (!(await out.write(sampleToJsonLine(sample)))) break;
    bar.update(++n, total, 0);
  }
  // A reader that left early (`| head`) gets no summary line on the terminal it shares.
  if (out.closed) bar.stop();
  else bar.done(n, total ?? n, 0);
  return 0;
}

export const catCommand: Command = {
  name: 'cat',
  usage: 'streams cat <dataset-url> [--limit N] [--offset K] [--columns a,b]',
  flags,
  run: ({ positionals, flags: f, io }) => runCat(positionals, f, io),
};
