import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { StreamsError } from '@streams/core';
import { convertDataset, isRemoteUrl } from '@streams/index';
import type { Command } from './commands.js';
import {
  type CommandIo,
  datasetArg,
  formatFlag,
  listFlag,
  readerFlags,
  SOURCE_FLAGS,
} from './dataIo.js';
import { ProgressBar, QUIET_FLAG } from './progressBar.js';
import { CACHE_FLAGS, commandSource, configureRemote, REMOTE_FLAGS } from './remoteFlags.js';

const flags = {
  format: { type: 'string', description: 'output shard format: mds or wds', default: 'mds' },
  compression: {
    type: 'string',
    description: 'mds: gz, bz2, zstd, br, snappy (zstd:7 for a level); wds: gz',
  },
  hashes: {
    type: 'string',
    description: 'mds: comma-separated hashes recorded per shard (sha1,xxh64)',
  },
  'size-limit': {
    type: 'string',
    description: 'start a new shard past this size (64mb = 64 MiB, as in MosaicML)',
    default: '64mb',
  },
  encodings: {
    type: 'string',
    description: 'mds: column encodings to use, e.g. label:int32,image:jpeg (default: inferred)',
  },
  'source-format': {
    type: 'string',
    description: 'read the source as mds, wds, jsonl, csv or table (default: from the URL)',
  },
  filter: SOURCE_FLAGS.filter,
  'allow-urls': SOURCE_FLAGS['allow-urls'],
  'invalid-utf8': SOURCE_FLAGS['invalid-utf8'],
  'max-line-bytes': SOURCE_FLAGS['max-line-bytes'],
  'max-cell-bytes': SOURCE_FLAGS['max-cell-bytes'],
  overwrite: { type: 'boolean', description: 'write into a non-empty output directory' },
  ...REMOTE_FLAGS,
  ...CACHE_FLAGS,
  ...QUIET_FLAG,
} satisfies Command['flags'];

/** `streams convert`: any dataset into MDS or WebDataset shards. */
export async function runConvert(
  positionals: string[],
  f: Record<string, unknown>,
  io: CommandIo,
): Promise<number> {
  const src = datasetArg(positionals, 'convert');
  const dst = datasetArg(positionals, 'convert', 1);
  const format = (f.format ?? 'mds') as string;
  if (format !== 'mds' && format !== 'wds')
    throw new StreamsError(
      'STREAMS_INVALID_CONFIG',
      `[streams/trainer] --format "${format}" is not mds or wds`,
      {
        fix: 'use --format mds or --format wds',
      },
    );
  const encodings: Record<string, string> = {};
  for (const pair of listFlag(f.encodings) ?? []) {
    const i = pair.indexOf(':');
    if (i <= 0)
      throw new StreamsError(
        'STREAMS_INVALID_CONFIG',
        `[streams/trainer] --encodings entry "${pair}" is not column:encoding`,
        {
          fix: 'write --encodings label:int32,image:jpeg',
        },
      );
    encodings[pair.slice(0, i)] = pair.slice(i + 1);
  }
  if (f.overwrite !== true && (await holdsFiles(dst)))
    throw new StreamsError(
      'STREAMS_INVALID_CONFIG',
      `[streams/trainer] output directory ${dst} is not empty`,
      { fix: 'pass --overwrite to replace what it holds, or choose a new or empty directory' },
    );
  await configureRemote(f);
  await using bytes = await commandSource(src, f, io.signal);
  const bar = new ProgressBar(io.err, `convert -> ${format}`, { quiet: f.quiet === true });
  const r = await convertDataset(src, {
    out: dst,
    format,
    compression: (f.compression as string | undefined) ?? null,
    hashes: listFlag(f.hashes),
    sizeLimit: f['size-limit'] as string | undefined,
    encodings,
    overwrite: f.overwrite === true,
    open: {
      format: formatFlag(f['source-format']),
      filter: f.filter as string | undefined,
      ...readerFlags(f),
    },
    source: bytes.source,
    signal: io.signal,
    onProgress: (p) => bar.update(p.samples, p.total, p.bytes),
  });
  bar.done(r.samples, r.samples, 0);
  io.out.write(
    `${JSON.stringify({ out: dst, format, samples: r.samples, shards: r.shards, columns: r.columns })}\n`,
  );
  return 0;
}

/** Whether a local output directory exists and holds anything (the writers refuse it then too). */
async function holdsFiles(dst: string): Promise<boolean> {
  if (isRemoteUrl(dst)) return false;
  try {
    return (await readdir(dst.startsWith('file:') ? fileURLToPath(dst) : dst)).length > 0;
  } catch {
    return false; // missing (created by the writer) or not a directory (the writer says so)
  }
}

export const convertCommand: Command = {
  name: 'convert',
  usage:
    'streams convert <src> <dst> --format mds|wds [--compression zstd] [--hashes sha1,xxh64] [--size-limit 64mb]',
  args: ['src', 'dst'],
  flags,
  run: ({ positionals, flags: f, io }) => runConvert(positionals, f, io),
};
