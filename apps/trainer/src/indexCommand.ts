import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { rng, StreamsError } from '@streams/core';
import { buildIndex, validateIndex } from '@streams/index';
import type { Command } from './commands.js';
import { type CommandIo, countFlag, datasetArg, readerFlags, SOURCE_FLAGS } from './dataIo.js';
import { ProgressBar, QUIET_FLAG } from './progressBar.js';
import { CACHE_FLAGS, commandSource, configureRemote, REMOTE_FLAGS } from './remoteFlags.js';

const flags = {
  sql: {
    type: 'string',
    description:
      "DuckDB query, one row per sample: SELECT ... FROM read_parquet('meta/*.parquet') WHERE ...",
  },
  out: {
    type: 'string',
    description:
      'build: train index path; validate: cleaned index of the good rows (.parquet, .csv, .tsv or .jsonl)',
  },
  'val-ratio': {
    type: 'number',
    description: 'fraction of rows held out for validation',
    default: 0,
  },
  'max-val-rows': { type: 'number', description: 'cap on validation rows' },
  'val-out': { type: 'string', description: 'validation index path (default: <out>.val.<ext>)' },
  seed: { type: 'number', description: 'seed of the validation split', default: 0 },
  report: {
    type: 'string',
    description: 'validate: JSON lines, one per dropped row (row, column, url, reason, message)',
  },
  decode: { type: 'boolean', description: 'validate: also decode image files (sharp)' },
  concurrency: { type: 'number', description: 'validate: rows checked at once (default 16)' },
  filter: SOURCE_FLAGS.filter,
  'allow-urls': SOURCE_FLAGS['allow-urls'],
  'invalid-utf8': SOURCE_FLAGS['invalid-utf8'],
  'max-line-bytes': SOURCE_FLAGS['max-line-bytes'],
  'max-cell-bytes': SOURCE_FLAGS['max-cell-bytes'],
  ...REMOTE_FLAGS,
  ...CACHE_FLAGS,
  ...QUIET_FLAG,
} satisfies Command['flags'];

const IMAGE_NAME = /\.(jpe?g|png|webp|avif|gif|tiff?)$/i;

/** `streams index validate`: every row's files checked; a cleaned index and a report of what was dropped. */
async function runValidate(
  positionals: string[],
  f: Record<string, unknown>,
  io: CommandIo,
): Promise<number> {
  const index = datasetArg(positionals, 'index validate', 1);
  const out = f.out as string | undefined;
  await configureRemote(f);
  await using bytes = await commandSource(index, f, io.signal);
  // Created first: an unwritable report path fails before any row is checked.
  if (typeof f.report === 'string') await writeFile(f.report, '');
  const report = typeof f.report === 'string' ? createWriteStream(f.report) : undefined;
  const bar = new ProgressBar(io.err, 'index validate', { quiet: f.quiet === true, unit: 'rows' });
  try {
    // Imported here: sharp loads only for --decode.
    const transforms = f.decode === true ? await import('@streams/transforms') : undefined;
    const r = await validateIndex(index, {
      out,
      concurrency: countFlag(f.concurrency, 'concurrency'),
      ...readerFlags(f),
      filter: f.filter as string | undefined,
      source: bytes.source,
      signal: io.signal,
      decodeFile: transforms
        ? async (b, at) => {
            // Images are decoded; other files were already checked for existence, size and hash.
            if (IMAGE_NAME.test(new URL(at.url, 'file:///').pathname))
              await transforms.decodeImage(b, {}, rng(0), {
                signal: io.signal,
                coords: { sample: at.row, url: at.url },
              });
          }
        : undefined,
      onDropped: (d) => report?.write(`${JSON.stringify(d)}\n`),
      onProgress: (p) => bar.update(p.rows, p.total, p.bytes),
    });
    bar.done(r.rows, r.rows, r.bytes);
    io.out.write(`${JSON.stringify({ ...r, report: f.report })}\n`);
    return 0;
  } finally {
    if (report) {
      report.end();
      await once(report, 'close');
    }
  }
}

/** `streams index build|validate`. */
export async function runIndex(
  positionals: string[],
  f: Record<string, unknown>,
  io: CommandIo,
): Promise<number> {
  const [sub] = positionals;
  if (sub === 'validate') return runValidate(positionals, f, io);
  if (sub !== 'build')
    throw new StreamsError(
      'STREAMS_INVALID_CONFIG',
      `[streams/trainer] unknown "streams index ${sub ?? ''}"`,
      {
        fix: 'use "streams index build --sql ... --out index.parquet" or "streams index validate <index>"',
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
  const valRatio = f['val-ratio'] as number | undefined;
  if (valRatio !== undefined && !(valRatio >= 0 && valRatio < 1))
    throw new StreamsError(
      'STREAMS_INVALID_CONFIG',
      `[streams/trainer] --val-ratio ${valRatio} is not a fraction in [0, 1)`,
      { fix: 'give --val-ratio the share of rows to hold out, such as 0.1' },
    );
  await configureRemote(f);
  const bar = new ProgressBar(io.err, 'index build', { quiet: f.quiet === true, unit: 'rows' });
  const r = await buildIndex({
    sql: f.sql,
    out: f.out,
    valRatio,
    maxValRows: countFlag(f['max-val-rows'], 'max-val-rows'),
    valOut: f['val-out'] as string | undefined,
    seed: countFlag(f.seed, 'seed'),
    signal: io.signal,
  });
  bar.done(r.rows, r.rows, 0);
  io.out.write(`${JSON.stringify(r)}\n`);
  return 0;
}

export const indexCommand: Command = {
  name: 'index',
  usage:
    'streams index build --sql "SELECT ..." --out index.parquet [--val-ratio 0.1] [--max-val-rows 10000] [--seed 0]\n       streams index validate <index> [--out clean.parquet] [--report report.jsonl] [--decode]',
  subcommands: { build: { required: ['sql', 'out'] }, validate: { args: ['index'] } },
  flags,
  run: ({ positionals, flags: f, io }) => runIndex(positionals, f, io),
};
