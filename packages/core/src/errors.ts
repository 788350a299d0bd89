import { redactText, redactUrl } from './redact.js';

/** Every error code streams raises, with the one-line meaning users see in the docs. */
export const ERROR_CODES = {
  STREAMS_INVALID_ARGUMENT: 'A function was called with an argument outside its documented domain.',
  STREAMS_INVALID_CONFIG:
    'A configuration value (file, flag or option) is missing, malformed or contradictory.',
  STREAMS_WORLD_INVALID:
    'The rank layout read from the launcher environment is incomplete or inconsistent.',
  STREAMS_TIMEOUT: 'An operation did not finish within its time limit.',
  STREAMS_STALLED: 'A transfer received no bytes for longer than the stall timeout.',
  STREAMS_CACHE_TOO_SMALL:
    'The cache budget cannot hold the entry: it is larger than the budget, or all space is pinned.',
  STREAMS_CACHE_CORRUPT: 'A cache entry or the cache state on disk failed its size or hash check.',
  STREAMS_UNSAFE_PATH:
    'A key, path or archive member would escape its directory (.., absolute path or symlink).',
  STREAMS_UNKNOWN_SCHEME: 'A URL uses a scheme that has no registered storage driver.',
  STREAMS_INVALID_URL: 'A URL or path could not be parsed.',
  STREAMS_NOT_FOUND: 'The object, bucket or file does not exist (HTTP 404).',
  STREAMS_FORBIDDEN: 'The credentials were refused or lack permission (HTTP 401/403).',
  STREAMS_NETWORK:
    'A network request failed after all retries (connection errors, 5xx, throttling).',
  STREAMS_SIZE_MISMATCH: 'Downloaded bytes do not match the expected size.',
  STREAMS_HASH_MISMATCH: 'Downloaded bytes do not match the expected digest.',
  STREAMS_INDEX_INVALID:
    'An index file or row is malformed (bad CSV, bad Parquet, missing column, ragged row).',
  STREAMS_SCHEMA_MISMATCH: 'Files of one index disagree on a column name or type.',
  STREAMS_SHARD_CORRUPT: 'A shard is truncated, has wrong offsets, or contradicts its index.json.',
  STREAMS_UNSUPPORTED_ENCODING:
    'A column encoding or compression is not supported (for example MDS pkl).',
  STREAMS_DECODE_FAILED:
    'A sample could not be decoded (truncated image, no video track, empty file).',
  STREAMS_FFMPEG_NOT_FOUND:
    'No usable ffmpeg binary was found (FFMPEG_PATH, system ffmpeg, @ffmpeg-installer).',
  STREAMS_STATE_INVALID:
    'A saved state or checkpoint does not match the dataset or learner it is loaded into.',
  STREAMS_DATASET_UNAVAILABLE: 'A named dataset needs something not installed on this machine.',
  STREAMS_BACKEND_UNAVAILABLE:
    'The requested TensorFlow.js backend is not installed, not built, or failed to start.',
  STREAMS_MISSING_DEPENDENCY:
    'A feature needs an optional package that is not installed (the message names it).',
  STREAMS_NOT_IMPLEMENTED: 'The requested feature is not available in this version of streams.',
  STREAMS_INTERNAL: 'An invariant inside streams was broken: a bug, please report it.',
} as const;

export type StreamsErrorCode = keyof typeof ERROR_CODES;

/** Where in the data an error happened. `url` is stored with credentials and signatures removed. */
export interface ErrorCoordinates {
  stream?: string | number;
  shard?: string | number;
  sample?: number | bigint;
  url?: string;
}

export interface StreamsErrorOptions extends ErrorCoordinates {
  cause?: unknown;
  /** What the user can do about it, appended to the message. */
  fix?: string;
}

/** Base class of every error streams raises: a stable `code`, the `cause`, and data coordinates. */
export class StreamsError extends Error {
  override name = 'StreamsError';
  readonly code: StreamsErrorCode;
  readonly stream: string | number | undefined;
  readonly shard: string | number | undefined;
  readonly sample: number | bigint | undefined;
  readonly url: string | undefined;
  readonly fix: string | undefined;

  constructor(code: StreamsErrorCode, message: string, options: StreamsErrorOptions = {}) {
    const url = options.url === undefined ? undefined : redactUrl(options.url);
    super(formatMessage(message, { ...options, url }), { cause: options.cause });
    this.code = code;
    this.stream = options.stream;
    this.shard = options.shard;
    this.sample = options.sample;
    this.url = url;
    this.fix = options.fix;
  }

  /** A plain object for logs and JSON output; never contains credentials. */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      stream: this.stream,
      shard: this.shard,
      sample: typeof this.sample === 'bigint' ? this.sample.toString() : this.sample,
      url: this.url,
    };
  }
}

function formatMessage(message: string, o: StreamsErrorOptions): string {
  const where: string[] = [];
  if (o.stream !== undefined) where.push(`stream ${o.stream}`);
  if (o.shard !== undefined) where.push(`shard ${o.shard}`);
  if (o.sample !== undefined) where.push(`sample ${o.sample}`);
  if (o.url !== undefined && !message.includes(o.url)) where.push(o.url);
  let text = redactText(message);
  if (where.length > 0) text += ` (${where.join(', ')})`;
  if (o.fix) text += `. Fix: ${o.fix}`;
  return text;
}

/** True when `err` is a StreamsError, optionally with the given code. */
export function isStreamsError(err: unknown, code?: StreamsErrorCode): err is StreamsError {
  return err instanceof StreamsError && (code === undefined || err.code === code);
}
