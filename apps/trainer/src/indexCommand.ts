import { StreamsError } from '@streams/core';
import { buildIndex } from '@streams/index';
import type { Command } from './commands.js';
import { type CommandIo, countFlag } from './dataIo.js';
import { configureRemote, REMOTE_FLAGS } from './remoteFlags.js';

const flags = {
  sql: {
    type: 'string',
    description:
      "DuckDB query, one row per sample: SELECT ... FROM read_parquet('meta/*.parquet') WHERE ...",
  },
  out: { type: 'string', description: 'train index path (.parquet, .csv, .tsv or .jsonl)' },
  'val-ratio': {
    type: 'number',
    description: 'fraction of rows held out for validation',
    default: 0,
  },
  'max-val-rows': { type: 'number', description: 'cap on validation rows' },
  'val-out': { type: 'string', description: 'validation index path (default: <out>.val.<ext>)' },
  seed: { type: 'number', description: 'seed of the validation split', default: 0 },
  ...REMOTE_FLAGS,
} satisfies Command['flags'];

/** `streams index build`: a train and a validation index from a DuckDB query, offline. */
export async function runIndex(
  positionals: string[],
  f: Record<string, unknown>,
  io: CommandIo,
): Promise<number> {
  const [sub] = positionals;
  if (sub !== 'build')
    throw new StreamsError(
      'STREAMS_INVALID_CONFIG',
      `[streams/trainer] unknown "streams index ${sub ?? ''}"`,
      {
        fix: 'use "streams index build --sql ... --out index.parquet"',
      },
    );
  if (typeof f.sql !== 'string' || typeof f.out !== 'string')
    throw new StreamsError(
      'STREAMS_INVALID_CONFIG',
      '[streams/trainer] "streams index build" needs --sql and --out',
      {
        fix: `streams index build --sql "SELECT * FROM read_parquet('meta/*.parquet')" --out index.parquet`,
      },
    );
  await configureRemote(f);
  const r = await buildIndex({
    sql: f.sql,
    out: f.out,
    valRatio: f['val-ratio'] as number | undefined,
    maxValRows: countFlag(f['max-val-rows'], 'max-val-rows'),
    valOut: f['val-out'] as string | undefined,
    seed: countFlag(f.seed, 'seed'),
    signal: io.signal,
  });
  io.out.write(`${JSON.stringify(r)}\n`);
  return 0;
}

export const indexCommand: Command = {
  name: 'index',
  usage:
    'streams index build --sql "SELECT ..." --out index.parquet [--val-ratio 0.1] [--max-val-rows 10000] [--seed 0]',
  flags,
  run: ({ positionals, flags: f, io }) => runIndex(positionals, f, io),
};
