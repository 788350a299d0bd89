// The state one transfer keeps across its attempts (to a file, or into memory), and its options.
import type { HashAlgorithm, Hasher } from './integrity.js';

/** A parsed expected digest. */
export type ParsedHash = { algorithm: HashAlgorithm; digest: string };

/** What an attempt that landed a file produced: its temp file, size and digest (when checked). */
export interface FileAttempt {
  tmp: string;
  bytes: number;
  digest?: string | undefined;
  /** The bytes written, when the attempt kept them (see `keepBytes` of {@link Transfer.toFile}). */
  body?: Uint8Array | undefined;
}

/** The engine options a {@link Transfer} follows. */
export interface TransferOptions {
  stallTimeoutMs: number;
  fsync: boolean;
  resume: boolean;
  partSize: number;
  partConcurrency: number;
}

/** What one download keeps across its attempts. */
export interface TransferState {
  tmp: string;
  /** Bytes on disk at the start of the file, valid for resuming. */
  written: number;
  /** Object size: expected, or from the first response. */
  total: number | undefined;
  expectedSize: number | undefined;
  etag: string | undefined;
  /** Digest state over the first `written` bytes. */
  hasher: Hasher | undefined;
  /** Parts already on disk, for parallel range reads. */
  partsDone: Set<number>;
}

/** What one read into memory keeps across its attempts. */
export interface ReadState {
  /** First byte of the read in the object. */
  offset: number;
  /** Bytes asked for; undefined: to the end of the object. */
  wanted: number | undefined;
  /** A whole-object read's expected size: a body of any other length fails (a longer one at once). */
  expectedSize: number | undefined;
  /** Whether the read is a range (an offset or a length was given). */
  ranged: boolean;
  /** Bytes this attempt expects in all: `wanted`, or learned from the answer. */
  total: number | undefined;
  /** The bytes received so far, valid for resuming. */
  chunks: Uint8Array[];
  received: number;
  etag: string | undefined;
}

/**
 * The fresh state of a read of `length` bytes at `offset` (both optional), or of a whole object
 * expected to be `expectedSize` bytes.
 */
export function readState(
  offset: number | undefined,
  length: number | undefined,
  expectedSize?: number,
): ReadState {
  const ranged = offset !== undefined || length !== undefined;
  return {
    offset: offset ?? 0,
    wanted: length,
    expectedSize: ranged ? undefined : expectedSize,
    ranged,
    total: length ?? (ranged ? undefined : expectedSize),
    chunks: [],
    received: 0,
    etag: undefined,
  };
}
