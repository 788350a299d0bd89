import { parseBytes, StreamsError } from '@streams/core';
import { type DatasetFormat, getFormat, listFormats } from '@streams/index';
import type { CommandIo, FlagSpec } from './commands.js';

/** Where a data command writes, and what cancels it (tests pass sinks; the CLI passes stdio). */
export type { CommandIo } from './commands.js';

/**
 * Writes lines with backpressure. A closed reader (`streams cat | head`) ends the output quietly:
 * `write` then returns false and the command stops reading.
 */
export class LineWriter {
  #closed = false;
  readonly #out: NodeJS.WritableStream;

  constructor(out: NodeJS.WritableStream) {
    this.#out = out;
    out.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED') this.#closed = true;
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Writes one line; resolves false once the reader has gone away. */
  async write(line: string): Promise<boolean> {
    if (this.#closed) return false;
    const ok = this.#out.write(`${line}\n`);
    if (!ok && !this.#closed) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.#out.off('drain', done);
          this.#out.off('error', done);
          this.#out.off('close', done);
          resolve();
        };
        this.#out.on('drain', done);
        this.#out.on('error', done);
        this.#out.on('close', done);
      });
    }
    return !this.#closed;
  }
}

/** The dataset URL positional, or a usage error naming the command. */
export function datasetArg(positionals: string[], command: string, index = 0): string {
  const url = positionals[index];
  if (!url)
    throw new StreamsError(
      'STREAMS_INVALID_CONFIG',
      `[streams/trainer] "streams ${command}" needs a dataset path or URL`,
      { fix: `run "streams ${command} --help"` },
    );
  return url;
}

/** A non-negative integer flag value. */
export function countFlag(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new StreamsError(
      'STREAMS_INVALID_CONFIG',
      `[streams/trainer] --${name} must be a non-negative integer, got ${String(value)}`,
      { fix: `give --${name} a whole number such as 10` },
    );
  return n;
}

/** Splits a comma-separated flag (`--columns a,b`). */
export function listFlag(value: unknown): string[] | undefined {
  if (value === undefined || value === '') return undefined;
  return String(value)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** The --format flag, checked against the registered formats. */
export function formatFlag(value: unknown): DatasetFormat | undefined {
  if (value === undefined || value === '') return undefined;
  if (!listFormats().some((f) => f.name === value))
    throw new StreamsError(
      'STREAMS_INVALID_CONFIG',
      `[streams/trainer] --format "${String(value)}" is unknown`,
      {
        fix: `use one of ${listFormats()
          .map((f) => f.name)
          .join(', ')}`,
      },
    );
  return getFormat(value as string).name;
}

/** The flags of the commands that open one dataset by URL (cat, inspect): `--format`, `--filter`. */
export const SOURCE_FLAGS = {
  format: {
    type: 'string',
    description:
      'mds, wds, jsonl, csv, table (index table: URL columns resolved) or a registered format; default: from the URL',
  },
  filter: {
    type: 'string',
    description: 'index tables: keep rows matching an expression (label == 3 and score > 0.5)',
  },
  'allow-urls': {
    type: 'string',
    description:
      'comma-separated local prefixes (file:///data/images/) a remote index or list may name; by default it may name remote URLs only',
  },
  'invalid-utf8': {
    type: 'string',
    description: 'CSV, JSONL and WebDataset text that is not UTF-8: error (default) or replace',
  },
  'max-line-bytes': {
    type: 'string',
    description: 'largest JSONL line or CSV record (default 64mib)',
  },
  'max-cell-bytes': { type: 'string', description: 'largest CSV cell (default 16mib)' },
} satisfies Record<string, FlagSpec>;

/** The source options every data command reads from its flags: URL allow-list, text bounds. */
export function readerFlags(f: Record<string, unknown>): {
  allowUrls: string[] | undefined;
  invalidUtf8: 'error' | 'replace' | undefined;
  maxLineBytes: number | undefined;
  maxCellBytes: number | undefined;
} {
  const policy = f['invalid-utf8'];
  if (policy !== undefined && policy !== 'error' && policy !== 'replace')
    throw new StreamsError(
      'STREAMS_INVALID_CONFIG',
      `[streams/trainer] --invalid-utf8 "${String(policy)}" is not error or replace`,
      { fix: 'use --invalid-utf8 error or --invalid-utf8 replace' },
    );
  const bytes = (name: string) =>
    f[name] === undefined ? undefined : parseBytes(f[name] as string, `--${name}`);
  return {
    allowUrls: listFlag(f['allow-urls']),
    invalidUtf8: policy,
    maxLineBytes: bytes('max-line-bytes'),
    maxCellBytes: bytes('max-cell-bytes'),
  };
}

/** The `openDataset` options that {@link SOURCE_FLAGS} and the command's Ctrl-C signal give. */
export function sourceOptions(
  f: Record<string, unknown>,
  io: CommandIo,
): {
  format: DatasetFormat | undefined;
  filter: string | undefined;
  signal: AbortSignal | undefined;
} & ReturnType<typeof readerFlags> {
  return {
    format: formatFlag(f.format),
    filter: f.filter as string | undefined,
    signal: io.signal,
    ...readerFlags(f),
  };
}
