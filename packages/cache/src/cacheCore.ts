import { lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { EventHub, StreamsError, type StreamsEvent } from '@streams/core';
import { CacheState, type JournalOp } from './cacheState.js';
import { Journal } from './journal.js';
import { isProcessAlive, parseIdentity } from './processIdentity.js';

const COMPACT_MIN_BYTES = 1 << 20;

/** Counters of one cache instance (part of `CacheStats`). */
export interface CacheCounters {
  hits: number;
  misses: number;
  fills: number;
  fillFailures: number;
  bytesFilled: number;
  /** Entries this process evicted (LRU or TTL). */
  evictions: number;
  evictedBytes: number;
  /** Acquires that waited for another fill of the same key, and their total wait. */
  waits: number;
  waitMs: number;
}

/**
 * What every part of a cache instance shares: its directories and owner id, the journal and the
 * state rebuilt from it, counters and events. The parts (lock sessions, fast pins, recovery,
 * eviction, fills) each get this object; none of them import each other's classes.
 */
export class CacheCore {
  readonly dataDir: string;
  readonly tmpDir: string;
  readonly pinDir: string;
  readonly journal: Journal;
  state = new CacheState();
  closed = false;
  readonly hub = new EventHub('cache');
  readonly counters: CacheCounters = {
    hits: 0,
    misses: 0,
    fills: 0,
    fillFailures: 0,
    bytesFilled: 0,
    evictions: 0,
    evictedBytes: 0,
    waits: 0,
    waitMs: 0,
  };
  private compactAt = COMPACT_MIN_BYTES;

  constructor(
    /** The real path of the cache directory. */
    readonly dir: string,
    readonly owner: string,
    readonly fsync: boolean,
    readonly now: () => number,
  ) {
    this.dataDir = join(dir, 'data');
    this.tmpDir = join(dir, 'tmp');
    this.pinDir = join(dir, 'pins');
    this.journal = new Journal(join(dir, 'journal'));
  }

  /** Appends ops to the journal and applies them to the state (under the lock). */
  record(ops: readonly JournalOp[], durable = false): void {
    this.journal.append(ops, durable);
    for (const op of ops) this.state.apply(op);
  }

  /**
   * Reads what other processes appended (under the lock). Returns why the state must be rebuilt
   * against the disk (see `recover`), or undefined when it is sound.
   */
  catchUp(brokeStaleLock: boolean): string | undefined {
    const read = this.journal.catchUp();
    const first = read.ops[0];
    if (read.reset && first?.o === 'snapshot' && first.v !== 1) {
      throw new StreamsError(
        'STREAMS_CACHE_CORRUPT',
        `[streams/cache] ${this.journal.path} has format version ${String(first.v)}, this version of @streams/cache reads version 1`,
        {
          fix: 'upgrade @streams/cache in every process sharing the directory, or use another cache dir',
        },
      );
    }
    if (read.reset) this.state = new CacheState();
    for (const op of read.ops) this.state.apply(op);
    if (read.missing) {
      this.journal.rewrite(this.state.snapshot(), this.fsync);
      return 'no journal';
    }
    if (read.corrupt > 0) return `${read.corrupt} unreadable journal lines`;
    if (brokeStaleLock) return 'a process died holding the cache lock';
    if (read.torn) return 'a torn journal record';
    return undefined;
  }

  /**
   * Catches up with the journal without the lock (a lockless hit); false when the locked path
   * must handle what it found (a missing, corrupt or newer journal).
   */
  catchUpLockless(): boolean {
    const read = this.journal.catchUp(true);
    const first = read.ops[0];
    if (
      read.missing ||
      read.corrupt > 0 ||
      (read.reset && first?.o === 'snapshot' && first.v !== 1)
    ) {
      this.journal.forget(); // the locked path re-reads everything and repairs or reports it
      return false;
    }
    if (read.reset) this.state = new CacheState();
    for (const op of read.ops) this.state.apply(op);
    return true;
  }

  /** Rewrites the journal as one snapshot (under the lock). */
  compact(): void {
    this.journal.rewrite(this.state.snapshot(), this.fsync);
    this.compactAt = Math.max(COMPACT_MIN_BYTES, this.journal.size * 4);
  }

  /** Compacts when the journal has grown well past its last compacted size. */
  compactIfLarge(): void {
    if (this.journal.size > this.compactAt) this.compact();
  }

  /** Whether the owner (this instance while open, or another process) is alive. */
  isAlive(owner: string): boolean {
    if (owner === this.owner) return !this.closed;
    const id = parseIdentity(owner);
    return id !== undefined && isProcessAlive(id);
  }

  /** Emits an event with the cache's counters, when anyone listens. */
  emit(
    kind: StreamsEvent['kind'],
    name: string,
    extra: Omit<StreamsEvent, 'source' | 'time' | 'kind' | 'name'> = {},
  ): void {
    if (!this.hub.active) return;
    const s = this.state;
    this.hub.emit({
      kind,
      name,
      ...extra,
      counters: {
        ...extra.counters,
        hits: this.counters.hits,
        misses: this.counters.misses,
        evictions: this.counters.evictions,
        bytesInUse: s.usage,
        pinnedBytes: s.pinnedBytes,
        reservedBytes: s.reserved,
        waitMs: Math.round(this.counters.waitMs),
      },
    });
  }
}

/** Creates `path` as a directory if needed; refuses a symlink or a file in its place. */
export function ensureRealDir(path: string): void {
  // lstat first: the directory exists on every call but the first, and a failed mkdir costs an
  // exception.
  let st = lstatSync(path, { throwIfNoEntry: false });
  if (st === undefined) {
    try {
      mkdirSync(path);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    st = lstatSync(path);
  }
  if (!st.isDirectory()) {
    throw new StreamsError(
      'STREAMS_UNSAFE_PATH',
      `[streams/cache] ${path} is ${st.isSymbolicLink() ? 'a symlink' : 'not a directory'}; the cache writes only into real directories it created`,
      { fix: `remove ${path} (the cache recreates it), or point the cache at another directory` },
    );
  }
}

/** Deletes a file; one already gone is fine. */
export function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
