import { createHash, getHashes } from 'node:crypto';
import {
  createReadStream,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  realpathSync,
  renameSync,
  type Stats,
  unlinkSync,
} from 'node:fs';
import { open } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  combineSignals,
  EventHub,
  formatBytes,
  isAbortError,
  isStreamsError,
  makeDisposable,
  parseBytes,
  raceSignal,
  StreamsError,
  type StreamsEvent,
  type StreamsEventListener,
  settings,
  signalReason,
  sleep,
  throwIfAborted,
} from '@streams/core';
import { entryFile, validateKey } from './cacheKey.js';
import { CacheState, type ClaimRecord, type EntryRecord, type JournalOp } from './cacheState.js';
import { DirLock } from './dirLock.js';
import { Journal } from './journal.js';
import { PinFile, readPinFiles } from './pinFile.js';
import { formatIdentity, isProcessAlive, parseIdentity, selfIdentity } from './processIdentity.js';

/** Options of {@link openCache}. */
export interface CacheOptions {
  /** Cache directory; defaults to `settings().cacheDir` (`STREAMS_CACHE_DIR`). Created if missing. */
  dir?: string;
  /** Byte budget for everything in the directory: bytes or a string such as `"20gb"`. */
  limit: number | string;
  /** Entries unused for this long are removed by {@link DiskCache.gc} (local-only and pinned ones stay). */
  ttlMs?: number;
  /** How often `gc()` runs by itself when `ttlMs` is set; default `min(ttlMs / 2, 10 min)`; 0 disables. */
  gcIntervalMs?: number;
  /** Receives every event (the same as `cache.on(listener)`). */
  onEvent?: StreamsEventListener;
  /** fsync fills and commit records (default true). Turn off only on throwaway storage such as tmpfs. */
  fsync?: boolean;
  /** What opening checks after a crash: recorded sizes (default) or sizes and hashes. */
  verify?: 'size' | 'hash';
  /** Wall clock used for TTL (tests inject one). */
  now?: () => number;
  /** Aborts waiting for the cache lock while opening. */
  signal?: AbortSignal;
}

/** What `fill` is handed. */
export interface FillContext {
  key: string;
  /** Write the entry's bytes to this file (inside the cache directory). */
  tmpPath: string;
  /** Aborts when the caller aborts or the cache closes. */
  signal: AbortSignal;
  /**
   * Reserves `totalBytes` for this fill as soon as the size is known (e.g. from Content-Length),
   * evicting to make room; throws `STREAMS_CACHE_TOO_SMALL` when it cannot fit.
   */
  reserve(totalBytes: number): Promise<void>;
}

/** What `fill` may return. */
export interface FillResult {
  /** Digest of the bytes written, `algo:hex` (e.g. `sha256:9f86...`), kept for recovery checks. */
  hash?: string;
}

/** Writes an entry's bytes to `ctx.tmpPath`; called only on a miss. */
export type Filler = (ctx: FillContext) => Promise<FillResult | undefined> | Promise<void>;

/** Options of {@link DiskCache.acquire}. */
export interface AcquireOptions {
  signal?: AbortSignal;
  /** The only copy is local (a dataset with no remote): never evicted, counted in usage. */
  localOnly?: boolean;
  /** Size of the entry when known before the fill: reserved before `fill` runs. */
  expectedSize?: number;
}

/** A pinned cache entry. Release it (or `await using`) when done reading. */
export interface CacheHandle extends AsyncDisposable {
  readonly key: string;
  /** Absolute path of the entry's file; valid until release. */
  readonly path: string;
  readonly size: number;
  readonly hash: string | undefined;
  /** True when the entry was already cached (no fill by this call). */
  readonly hit: boolean;
  readonly localOnly: boolean;
  /** Milliseconds spent waiting for another fill of the same key. */
  readonly waitedMs: number;
  /** Unpins the entry; idempotent. */
  release(): Promise<void>;
}

/** Counters of this process and the shared usage as last seen under the lock. */
export interface CacheStats {
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
  /** Shared figures (all processes). */
  entries: number;
  bytesInUse: number;
  pinnedBytes: number;
  localBytes: number;
  reservedBytes: number;
  budget: number;
  openProcesses: number;
}

/** Result of {@link DiskCache.audit}: records compared with the files, under the lock. */
export interface CacheAudit {
  budget: number;
  recordedBytes: number;
  reservedBytes: number;
  /** Bytes of files in `data/` and `tmp/`. */
  dataBytes: number;
  tmpBytes: number;
  entries: number;
  /** Mismatches between records and files; empty when consistent. */
  problems: string[];
}

/** One entry as listed by {@link DiskCache.list}. */
export interface CacheEntryInfo {
  key: string;
  path: string;
  size: number;
  hash: string | undefined;
  localOnly: boolean;
  /** Pins held by all processes, and by this cache instance. */
  pins: number;
  ownPins: number;
  /** Wall time of the last acquire or release. */
  usedAt: number;
}

/** Result of {@link DiskCache.gc}. */
export interface GcResult {
  removed: number;
  freedBytes: number;
}

const SOURCE = 'cache';
const COMPACT_MIN_BYTES = 1 << 20;
/** Fills of the same key in other cache instances of this process, by `dir \0 key`. */
const inflight = new Map<string, Promise<unknown>>();
let instances = 0;

/** Opens (creating if needed) the disk cache in `dir`, recovering from crashes of earlier users. */
export async function openCache(options: CacheOptions): Promise<DiskCache> {
  const cache = new DiskCache(options);
  try {
    await cache.init(options.signal);
  } catch (err) {
    await cache.abandon();
    throw err;
  }
  return cache;
}

type PendingOp = Extract<JournalOp, { o: 'touch' | 'unpin' }>;

type Step =
  | { kind: 'hit'; entry: EntryRecord }
  | { kind: 'claimed'; claim: ClaimRecord }
  | { kind: 'wait'; owner: string };

/**
 * The node-wide disk cache. Shared state lives in an append-only journal guarded by a lock file
 * (see README, "How processes share the cache"): each operation that changes the entries takes the
 * lock, reads what other processes appended, decides, appends its own records and releases the
 * lock, all synchronously. Hits take no lock: they pin through a per-process pin file that evicting
 * processes read before and after recording an eviction.
 */
export class DiskCache implements AsyncDisposable {
  readonly dir: string;
  readonly owner: string;
  private readonly limit: number;
  private readonly dataDir: string;
  private readonly tmpDir: string;
  private readonly lock: DirLock;
  private readonly journal: Journal;
  private state = new CacheState();
  private readonly hub = new EventHub(SOURCE);
  private readonly fsync: boolean;
  private readonly verifyMode: 'size' | 'hash';
  private readonly now: () => number;
  private readonly ttlMs: number | undefined;
  private readonly gcIntervalMs: number;
  private readonly closer = new AbortController();
  private readonly fills = new Set<Promise<unknown>>();
  private gcTimer: NodeJS.Timeout | undefined;
  /** Handles garbage-collected without a release: their pins are dropped and a warning emitted. */
  private readonly leaks = new FinalizationRegistry<{ key: string; fast: boolean }>((held) => {
    if (this.closed) return;
    this.emit('warning', 'cache.handle_leaked', {
      attrs: { key: held.key, fix: 'release handles (or use `await using`) when done reading' },
    });
    void (held.fast ? this.releaseFast(held.key) : this.release(held.key));
  });
  private tmpSeq = 0;
  private compactAt = COMPACT_MIN_BYTES;
  private closed = false;
  private registered = false;
  private readonly counters = {
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

  /** Use {@link openCache}. */
  constructor(options: CacheOptions) {
    this.limit = parseBytes(options.limit, 'limit');
    if (this.limit <= 0) {
      throw new StreamsError('STREAMS_INVALID_CONFIG', '[streams/cache] limit must be positive', {
        fix: 'set the cache limit (cacheLimit) to a size such as "20gb"',
      });
    }
    const dir = resolve(options.dir ?? settings().cacheDir);
    mkdirSync(dir, { recursive: true });
    // Everything below is addressed from the real path, so a symlinked cache root is fine but
    // nothing inside it is followed.
    this.dir = realpathSync(dir);
    this.dataDir = join(this.dir, 'data');
    this.tmpDir = join(this.dir, 'tmp');
    ensureRealDir(this.dataDir);
    ensureRealDir(this.tmpDir);
    this.owner = `${formatIdentity(selfIdentity())}.${Date.now().toString(36)}${(++instances).toString(36)}`;
    // The lock lives in a directory of its own, next to nothing that changes on every operation.
    ensureRealDir(join(this.dir, 'lock'));
    this.lock = new DirLock(join(this.dir, 'lock', 'held'), this.owner, join(this.dir, 'owners'));
    this.journal = new Journal(join(this.dir, 'journal'));
    this.pinDir = join(this.dir, 'pins');
    ensureRealDir(this.pinDir);
    this.pinFile = new PinFile(this.pinDir, this.owner);
    this.fsync = options.fsync ?? true;
    this.verifyMode = options.verify ?? 'size';
    this.now = options.now ?? Date.now;
    this.ttlMs = options.ttlMs;
    this.gcIntervalMs =
      options.gcIntervalMs ??
      (options.ttlMs === undefined ? 0 : Math.min(Math.max(options.ttlMs / 2, 1000), 600_000));
    if (options.onEvent) this.hub.on(options.onEvent);
  }

  /** @internal Opens the journal, reaps dead processes, recovers if needed, registers this process. */
  async init(signal?: AbortSignal): Promise<void> {
    await this.locked(signal, () => {
      const live = [...this.state.owners.keys()].filter((w) => this.isAlive(w));
      if (live.length === 0 && !this.recoveredThisLock) this.recover('first process to open');
      else this.reapDeadOwners();
      this.record([{ o: 'open', w: this.owner, limit: this.limit, t: this.now() }]);
      this.registered = true;
      try {
        this.makeRoom('', 0, 'budget');
      } catch (err) {
        if (!isStreamsError(err, 'STREAMS_CACHE_TOO_SMALL')) throw err;
        this.emit('warning', 'cache.over_budget', {
          attrs: { usage: this.state.usage, budget: this.state.budget },
        });
      }
    });
    if (this.verifyMode === 'hash') await this.verify({ signal });
    if (this.ttlMs !== undefined) await this.gc();
    if (this.gcIntervalMs > 0) {
      this.gcTimer = setInterval(() => {
        this.gc().catch((err: unknown) =>
          this.emit('warning', 'cache.gc_failed', { attrs: { error: String(err) } }),
        );
      }, this.gcIntervalMs);
      this.gcTimer.unref();
    }
  }

  /** Adds an event listener; returns a function that removes it. */
  on(listener: StreamsEventListener): () => void {
    return this.hub.on(listener);
  }

  /**
   * Returns a pinned handle to the entry of `key`, calling `fill` to create it on a miss. Concurrent
   * acquires of one key (in any process on this node) fill it once; the others wait for that fill.
   */
  async acquire(key: string, fill: Filler, options: AcquireOptions = {}): Promise<CacheHandle> {
    validateKey(key);
    const { signal, expectedSize } = options;
    if (expectedSize !== undefined && !(Number.isSafeInteger(expectedSize) && expectedSize >= 0)) {
      throw new StreamsError(
        'STREAMS_INVALID_ARGUMENT',
        `[streams/cache] expectedSize must be a non-negative integer, got ${expectedSize}`,
        { fix: 'pass the entry size in bytes, or leave expectedSize out when unknown' },
      );
    }
    this.assertOpen();
    const started = performance.now();
    let waited = false;
    throwIfAborted(signal);
    const fast = this.fastHit(key);
    if (fast) {
      this.counters.hits++;
      if (this.hub.active) this.emit('metric', 'cache.hit', { attrs: { key } });
      return fast;
    }
    for (;;) {
      throwIfAborted(signal);
      const step = await this.locked(signal, () => this.acquireStep(key, options));
      if (step.kind === 'hit') {
        const handle = await this.checkedHandle(
          step.entry,
          waited ? performance.now() - started : 0,
        );
        if (handle) {
          this.counters.hits++;
          if (waited) this.noteWait(key, started);
          if (this.hub.active) this.emit('metric', 'cache.hit', { attrs: { key } });
          return handle;
        }
        continue; // the file was damaged and is gone now: fill it again
      }
      if (step.kind === 'claimed') {
        this.counters.misses++;
        if (waited) this.noteWait(key, started);
        if (this.hub.active) this.emit('metric', 'cache.miss', { attrs: { key } });
        return this.runFill(step.claim, fill, options, waited ? performance.now() - started : 0);
      }
      waited = true;
      // A fill in this process: wait on its promise. Another process: poll, backing off to 50 ms.
      const local = inflight.get(this.inflightKey(key));
      if (local) {
        await raceSignal(
          local.then(
            () => undefined,
            () => undefined,
          ),
          signal,
        );
      } else {
        const elapsed = performance.now() - started;
        await sleep(Math.min(2 + elapsed / 20, 50), { signal });
      }
    }
  }

  /** True when `key` is cached (committed) right now. */
  async has(key: string): Promise<boolean> {
    validateKey(key);
    this.assertOpen();
    return this.locked(undefined, () => this.state.entries.has(key));
  }

  /**
   * Removes `key` now (for example a file a decoder found broken), unless another process or cache
   * instance pins it; this instance's own pins do not prevent it (open file descriptors stay
   * readable). Returns whether the entry was removed. Local-only entries are removed too.
   */
  async remove(key: string, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    validateKey(key);
    this.assertOpen();
    return this.locked(options.signal, () => {
      const entry = this.state.entries.get(key);
      if (!entry) return false;
      for (const owner of this.state.pins.get(key)?.keys() ?? [])
        if (owner !== this.owner && this.isAlive(owner)) return false;
      this.refreshPins();
      if (this.otherPins.has(key)) return false;
      return this.evict([key], 'remove', true) > 0 || !this.state.entries.has(key);
    });
  }

  /** Counters of this process and shared usage as of the last operation. */
  stats(): CacheStats {
    // Write deferred releases first when the lock is free (synchronous), so pins are current.
    if (!this.closed) this.drain();
    this.mergePins();
    const s = this.state;
    return {
      ...this.counters,
      entries: s.entries.size,
      bytesInUse: s.usage,
      pinnedBytes: s.pinnedBytes,
      localBytes: s.localBytes,
      reservedBytes: s.reserved,
      budget: Number.isFinite(s.budget) ? s.budget : this.limit,
      openProcesses: s.owners.size,
    };
  }

  /** Refreshes the shared figures of {@link stats} from disk (takes the lock once). */
  async refresh(signal?: AbortSignal): Promise<CacheStats> {
    this.assertOpen();
    await this.locked(signal, () => undefined);
    return this.stats();
  }

  /**
   * Removes entries unused for `ttlMs` (never pinned or local-only ones), claims and temp files of
   * dead processes, and compacts the journal.
   */
  async gc(options: { signal?: AbortSignal } = {}): Promise<GcResult> {
    this.assertOpen();
    return this.locked(options.signal, () => {
      this.reapDeadOwners();
      this.removeStrayTemps();
      const keys: string[] = [];
      this.refreshPins();
      if (this.ttlMs !== undefined) {
        const cutoff = this.now() - this.ttlMs;
        for (const [key, entry] of this.state.entries) {
          if (entry.local || this.state.isPinned(key)) continue;
          if (entry.usedAt <= cutoff) keys.push(key);
        }
      }
      const freedBytes = this.evict(keys, 'ttl');
      this.compact();
      const result = { removed: keys.length, freedBytes };
      this.emit('info', 'cache.gc', { counters: { ...result } });
      return result;
    });
  }

  /**
   * Re-hashes every entry that has a recorded `algo:hex` digest and removes those whose bytes no
   * longer match (pinned entries are checked but kept until released).
   */
  async verify(
    options: { signal?: AbortSignal } = {},
  ): Promise<{ checked: number; removed: number }> {
    const known = new Set(getHashes());
    const entries = await this.locked(options.signal, () => [...this.state.entries.values()]);
    let checked = 0;
    let removed = 0;
    for (const entry of entries) {
      throwIfAborted(options.signal);
      const algo = entry.hash?.slice(0, entry.hash.indexOf(':'));
      if (!algo || !known.has(algo)) continue;
      let actual: string | undefined;
      try {
        actual = `${algo}:${await hashFile(join(this.dataDir, entry.file), algo, options.signal)}`;
      } catch (err) {
        if (isAbortError(err)) throw err;
      }
      checked++;
      if (actual === entry.hash) continue;
      const gone = this.locked(options.signal, () => {
        const now = this.state.entries.get(entry.key);
        if (now?.file !== entry.file || now.hash !== entry.hash) return false;
        this.emit('warning', 'cache.corrupt', {
          attrs: { key: entry.key, reason: 'hash mismatch' },
        });
        // A reader still holds it: it goes when released and checked again.
        this.refreshPins();
        if (this.state.isPinned(entry.key)) return false;
        return this.evict([entry.key], 'corrupt') > 0;
      });
      if (await gone) removed++;
    }
    return { checked, removed };
  }

  /** Every entry, least recently used first (the order in which LRU eviction would remove them). */
  async list(signal?: AbortSignal): Promise<CacheEntryInfo[]> {
    this.assertOpen();
    return this.locked(signal, () => {
      this.refreshPins();
      return [...this.state.entries.values()].map((e) => {
        const pins = this.state.pins.get(e.key);
        let total = this.state.external.get(e.key) ?? 0;
        for (const n of pins?.values() ?? []) total += n;
        return {
          key: e.key,
          path: join(this.dataDir, e.file),
          size: e.size,
          hash: e.hash,
          localOnly: e.local,
          pins: total,
          ownPins: (pins?.get(this.owner) ?? 0) + (this.fastPins.get(e.key) ?? 0),
          usedAt: e.usedAt,
        };
      });
    });
  }

  /** Compares records with the files on disk, under the lock (a consistency check for tools and tests). */
  async audit(signal?: AbortSignal): Promise<CacheAudit> {
    this.assertOpen();
    return this.locked(signal, () => {
      const problems: string[] = [];
      const files = this.scanData();
      let dataBytes = 0;
      for (const st of files.values()) dataBytes += st.size;
      for (const entry of this.state.entries.values()) {
        const st = files.get(entry.file);
        if (!st) problems.push(`${entry.key}: file ${entry.file} is missing`);
        else if (st.size !== entry.size)
          problems.push(`${entry.key}: ${st.size} bytes on disk, ${entry.size} recorded`);
        files.delete(entry.file);
      }
      for (const file of files.keys()) problems.push(`data/${file} has no record`);
      let tmpBytes = 0;
      for (const name of readdirSync(this.tmpDir)) {
        try {
          tmpBytes += lstatSync(join(this.tmpDir, name)).size;
        } catch {}
      }
      const s = this.state;
      if (s.usage + s.reserved > s.budget)
        problems.push(`usage ${s.usage} + reserved ${s.reserved} exceeds budget ${s.budget}`);
      return {
        budget: s.budget,
        recordedBytes: s.usage,
        reservedBytes: s.reserved,
        dataBytes,
        tmpBytes,
        entries: s.entries.size,
        problems,
      };
    });
  }

  /** Aborts fills in progress, waits for them, and drops this process's pins and claims. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.gcTimer) clearInterval(this.gcTimer);
    this.closer.abort();
    await Promise.allSettled([...this.fills]);
    try {
      await this.locked(undefined, () => this.record([{ o: 'close', w: this.owner }]));
    } finally {
      if (this.flushTimer) clearTimeout(this.flushTimer);
      this.pinFile.close();
      this.fastPins.clear();
      this.journal.close();
      this.lock.dispose();
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** @internal Cleans up after a failed open: unregisters if registered, else just lets go. */
  async abandon(): Promise<void> {
    if (this.registered) {
      await this.close().catch(() => {});
      return;
    }
    this.closed = true;
    if (this.gcTimer) clearInterval(this.gcTimer);
    this.pinFile.close();
    this.journal.close();
    this.lock.dispose();
  }

  // ---------------------------------------------------------------------------------------------
  // Steps run under the lock (synchronous).

  private recoveredThisLock = false;
  /** Pins taken by lockless hits, published in pins/<owner>. */
  private readonly fastPins = new Map<string, number>();
  private readonly pinFile: PinFile;
  private readonly pinDir: string;
  /** Pins of other owners' pin files as last read (under the lock). */
  private otherPins = new Map<string, number>();
  /** Records (touches, unpins) written at the start of the next lock session, in call order. */
  private pendingOps: PendingOp[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly tasks: Array<{
    signal: AbortSignal | undefined;
    run: () => void;
    fail: (err: unknown) => void;
  }> = [];
  private draining = false;
  private inSession = false;
  private drainScheduled = false;

  private acquireStep(key: string, options: AcquireOptions): Step {
    const entry = this.state.entries.get(key);
    if (entry) {
      this.record([{ o: 'pin', k: key, w: this.owner, t: this.now() }]);
      return { kind: 'hit', entry };
    }
    const claim = this.state.claims.get(key);
    if (claim) {
      if (claim.owner === this.owner || this.isAlive(claim.owner))
        return { kind: 'wait', owner: claim.owner };
      this.reapOwner(claim.owner);
    }
    const reserve = options.expectedSize ?? 0;
    this.makeRoom(key, reserve);
    const tmp = `${this.owner}~${(++this.tmpSeq).toString(36)}.tmp`;
    this.record([{ o: 'claim', k: key, w: this.owner, r: reserve, tmp, t: this.now() }]);
    return { kind: 'claimed', claim: this.state.claims.get(key)! };
  }

  /** Evicts LRU entries so that `need` more bytes fit; throws STREAMS_CACHE_TOO_SMALL when impossible. */
  private makeRoom(key: string, need: number, reason: 'lru' | 'budget' = 'lru'): void {
    const fits = () => this.state.usage + this.state.reserved + need <= this.state.budget;
    if (fits()) return;
    const budget = this.state.budget;
    if (need > budget - this.state.localBytes) throw this.tooSmall(key, need);
    let reaped = false;
    // Each round evicts, or finds an entry pinned by a lockless reader and keeps it (it is pinned
    // from then on), so this ends.
    for (;;) {
      this.refreshPins();
      let plan = this.state.planEviction(need);
      if (plan === undefined && !reaped) {
        // Pins and reservations of dead processes are the usual reason: drop them and look again.
        reaped = true;
        this.reapDeadOwners();
        this.refreshPins();
        plan = this.state.planEviction(need);
      }
      if (plan === undefined) throw this.tooSmall(key, need);
      this.evict(plan, reason);
      if (fits()) return;
    }
  }

  private tooSmall(key: string, need: number): StreamsError {
    const s = this.state;
    const budget = s.budget;
    const pinned = s.pinnedBytes;
    let nonEvictable = 0;
    for (const [k, e] of s.entries) if (e.local || s.isPinned(k)) nonEvictable += e.size;
    const needed = nonEvictable + s.reserved + need;
    const why =
      need > budget
        ? `the entry alone (${formatBytes(need)}) is larger than the budget (${formatBytes(budget)})`
        : `it needs ${formatBytes(need)} but only ${formatBytes(Math.max(0, budget - nonEvictable - s.reserved))} of the ${formatBytes(budget)} budget can be freed: ${formatBytes(pinned)} pinned by readers, ${formatBytes(s.localBytes)} local-only, ${formatBytes(s.reserved)} reserved by fills in progress`;
    return new StreamsError(
      'STREAMS_CACHE_TOO_SMALL',
      `[streams/cache] cannot cache "${key}": ${why}; the cache needs at least ${formatBytes(needed)} (${needed} bytes)`,
      {
        fix: `raise the cache limit to at least ${formatBytes(needed)}, or release handles sooner / lower prefetch so fewer entries are pinned at once`,
      },
    );
  }

  /** Records and deletes `keys`; returns the bytes freed. */
  /**
   * Records and deletes `keys`; returns the bytes freed. Lockless readers pin without the lock, so
   * after recording the evictions the pin files are read again: a reader that pinned before our
   * record was written is seen there and its entry is restored instead of deleted, and a reader
   * that pinned after sees the eviction record and takes the locked path (see README).
   */
  private evict(
    keys: readonly string[],
    reason: 'lru' | 'ttl' | 'budget' | 'remove' | 'corrupt',
    ignoreOwnPins = false,
  ): number {
    if (keys.length === 0) return 0;
    const entries = keys.map((k) => this.state.entries.get(k)!);
    // Record first: a crash between the two leaves files without records, which recovery deletes.
    this.record(keys.map((k) => ({ o: 'evict', k }) as const));
    this.refreshPins();
    const restore = entries.filter((e) =>
      ignoreOwnPins ? this.otherPins.has(e.key) : this.state.external.has(e.key),
    );
    if (restore.length > 0) {
      this.record(
        restore.map((e) => {
          const op: JournalOp = { o: 'restore', k: e.key, f: e.file, s: e.size, t: e.usedAt };
          if (e.hash !== undefined) op.h = e.hash;
          if (e.local) op.l = 1;
          return op;
        }),
      );
    }
    let freed = 0;
    for (const entry of entries) {
      if (restore.includes(entry)) continue;
      unlinkQuiet(join(this.dataDir, entry.file));
      freed += entry.size;
      this.counters.evictions++;
      this.counters.evictedBytes += entry.size;
      this.emit('evict', 'cache.evict', { bytes: entry.size, attrs: { key: entry.key, reason } });
    }
    return freed;
  }

  /** Reads the other owners' pin files (under the lock) and merges them with this instance's. */
  private refreshPins(): void {
    const read = readPinFiles(this.pinDir, this.owner, (w) => this.isAlive(w));
    this.otherPins = read.pins;
    // An owner whose file cannot be read consistently is assumed to pin everything.
    if (read.unreadable.length > 0)
      for (const key of this.state.entries.keys()) this.otherPins.set(key, 1);
    this.mergePins();
  }

  private mergePins(): void {
    const merged = new Map(this.otherPins);
    for (const [k, n] of this.fastPins) merged.set(k, (merged.get(k) ?? 0) + n);
    this.state.external = merged;
  }

  /**
   * The lockless hit: read the journal's new records without the lock; if the entry exists,
   * publish a pin in this instance's pin file, read the journal again, and keep the pin only if
   * no eviction of the entry was recorded in between. Undefined sends the caller to the locked path.
   */
  private fastHit(key: string): CacheHandle | undefined {
    if (this.closed || !this.readLockless() || !this.state.entries.has(key)) return undefined;
    this.changeFastPin(key, 1);
    const entry = this.readLockless() ? this.state.entries.get(key) : undefined;
    let ok = false;
    if (entry) {
      try {
        const st = lstatSync(join(this.dataDir, entry.file));
        ok = st.isFile() && st.size === entry.size;
      } catch {}
    }
    if (!entry || !ok) {
      this.changeFastPin(key, -1);
      return undefined; // the locked path decides (evicted meanwhile, or damaged)
    }
    this.queueOp({ o: 'touch', k: key, t: this.now() }, false);
    return this.makeHandle(entry, true, 0, true);
  }

  /** Catches up with the journal without the lock; false when the locked path must handle it. */
  private readLockless(): boolean {
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
    this.mergePins();
    return true;
  }

  private changeFastPin(key: string, delta: number): void {
    const n = (this.fastPins.get(key) ?? 0) + delta;
    if (n > 0) this.fastPins.set(key, n);
    else this.fastPins.delete(key);
    this.pinFile.write(this.fastPins);
  }

  /** Queues a record for the next lock session; `urgent` ones get a session within one turn. */
  private queueOp(op: PendingOp, urgent: boolean): void {
    this.pendingOps.push(op);
    if (urgent) {
      this.deferLocked(() => {});
    } else if (!this.flushTimer) {
      // LRU touches of lockless hits are batched: a process that only hits takes the lock once a second.
      this.flushTimer = setTimeout(() => {
        this.flushTimer = undefined;
        if (!this.closed) this.deferLocked(() => {});
      }, 1000);
      this.flushTimer.unref();
    }
  }

  /** Writes the queued records (under the lock), dropping unpins of pins already gone. */
  private flushPending(): void {
    if (this.pendingOps.length === 0) return;
    const ops = this.pendingOps;
    this.pendingOps = [];
    const held = new Map<string, number>();
    const valid = ops.filter((op) => {
      if (op.o !== 'unpin') return this.state.entries.has(op.k);
      const n = held.get(op.k) ?? this.state.pins.get(op.k)?.get(this.owner) ?? 0;
      held.set(op.k, n - 1);
      return n > 0;
    });
    if (valid.length > 0) this.record(valid);
  }

  private commitStep(
    claim: ClaimRecord,
    size: number,
    hash: string | undefined,
    local: boolean,
    started: number,
  ): EntryRecord {
    const current = this.state.claims.get(claim.key);
    if (current?.owner !== this.owner || current.tmp !== claim.tmp) {
      throw new StreamsError(
        'STREAMS_INTERNAL',
        `[streams/cache] the claim on "${claim.key}" was lost during its fill`,
      );
    }
    if (size > current.reserve) this.makeRoom(claim.key, size - current.reserve);
    const file = entryFile(claim.key);
    const fanout = join(this.dataDir, file.slice(0, 2));
    ensureRealDir(this.dataDir);
    ensureRealDir(fanout);
    // Rename first, record second: a crash in between leaves an unrecorded file, which recovery
    // deletes; the reverse order would leave a record whose file never arrived.
    renameSync(join(this.tmpDir, claim.tmp), join(this.dataDir, file));
    this.removeSiblings(claim);
    const op: JournalOp = {
      o: 'commit',
      k: claim.key,
      f: file,
      s: size,
      w: this.owner,
      t: this.now(),
    };
    if (hash !== undefined) op.h = hash;
    if (local) op.l = 1;
    try {
      // Only a local-only entry's record must survive power loss: it is the data's only copy. A
      // lost record of any other entry makes recovery delete its file, which is a refetch later.
      this.record([op], this.fsync && local);
    } catch (err) {
      unlinkQuiet(join(this.dataDir, file));
      throw err;
    }
    this.counters.fills++;
    this.counters.bytesFilled += size;
    // Emitted under the lock, so listeners see fills, evictions and failures in their true order.
    this.emit('progress', 'cache.fill', {
      bytes: size,
      durationMs: performance.now() - started,
      attrs: { key: claim.key },
    });
    return this.state.entries.get(claim.key)!;
  }

  private abortStep(claim: ClaimRecord, err: unknown): void {
    unlinkQuiet(join(this.tmpDir, claim.tmp));
    this.removeSiblings(claim);
    const current = this.state.claims.get(claim.key);
    if (current?.owner === this.owner && current.tmp === claim.tmp)
      this.record([{ o: 'abort', k: claim.key }]);
    this.counters.fillFailures++;
    this.emit('warning', 'cache.fill_failed', {
      attrs: { key: claim.key, error: err instanceof Error ? err.message : String(err) },
    });
  }

  /** Deletes files a fill made next to its tmpPath (`<tmpPath>.part` and the like). */
  private removeSiblings(claim: ClaimRecord): void {
    const prefix = `${claim.tmp}.`;
    for (const name of readdirSync(this.tmpDir))
      if (name.startsWith(prefix)) unlinkQuiet(join(this.tmpDir, name));
  }

  private reserveStep(claim: ClaimRecord, total: number): void {
    const current = this.state.claims.get(claim.key);
    if (current?.owner !== this.owner || current.tmp !== claim.tmp) return;
    if (total <= current.reserve) return;
    this.makeRoom(claim.key, total - current.reserve);
    this.record([{ o: 'reserve', k: claim.key, r: total }]);
  }

  private unpinStep(key: string, time = this.now()): void {
    if (this.state.pins.get(key)?.has(this.owner))
      this.record([{ o: 'unpin', k: key, w: this.owner, t: time }]);
  }

  // ---------------------------------------------------------------------------------------------
  // Fills and handles.

  private async runFill(
    claim: ClaimRecord,
    fill: Filler,
    options: AcquireOptions,
    waitedMs: number,
  ): Promise<CacheHandle> {
    const { signal } = options;
    const fillSignal = combineSignals([signal, this.closer.signal]);
    const tmpPath = join(this.tmpDir, claim.tmp);
    const started = performance.now();
    const done = (async () => {
      try {
        const result = await fill({
          key: claim.key,
          tmpPath,
          signal: fillSignal,
          reserve: (total) => this.locked(fillSignal, () => this.reserveStep(claim, total)),
        });
        const size = await this.finishTemp(claim.key, tmpPath);
        return await this.locked(undefined, () =>
          this.commitStep(claim, size, result?.hash, options.localOnly === true, started),
        );
      } catch (err) {
        await this.locked(undefined, () => this.abortStep(claim, err));
        throw err;
      }
    })();
    const ik = this.inflightKey(claim.key);
    inflight.set(ik, done);
    this.fills.add(done);
    done
      .then(
        () => undefined,
        () => undefined,
      )
      .finally(() => {
        if (inflight.get(ik) === done) inflight.delete(ik);
        this.fills.delete(done);
      });
    try {
      const entry = await raceSignal(done, signal);
      return this.makeHandle(entry, false, waitedMs);
    } catch (err) {
      if (signal?.aborted) {
        // The caller left; if the fill still completes, keep the entry but drop the pin made for it.
        done.then(
          (entry) => this.release(entry.key),
          () => undefined,
        );
      }
      throw err;
    }
  }

  /** Checks the filler's output and makes it durable; returns its size. */
  private async finishTemp(key: string, tmpPath: string): Promise<number> {
    let st: Stats;
    try {
      st = lstatSync(tmpPath);
    } catch (err) {
      throw new StreamsError(
        'STREAMS_INVALID_ARGUMENT',
        `[streams/cache] the fill of "${key}" resolved without writing its file at tmpPath`,
        { cause: err, fix: 'write the entry to ctx.tmpPath before the fill function resolves' },
      );
    }
    if (!st.isFile()) {
      throw new StreamsError(
        'STREAMS_UNSAFE_PATH',
        `[streams/cache] the fill of "${key}" left ${st.isSymbolicLink() ? 'a symlink' : 'something other than a regular file'} at tmpPath`,
        {
          fix: 'write the bytes into ctx.tmpPath itself; links are refused so nothing outside the cache is exposed',
        },
      );
    }
    if (this.fsync) {
      const fh = await open(tmpPath, 'r');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
    return st.size;
  }

  /** A handle after a hit, or undefined when the file is missing or has the wrong size (then dropped). */
  private async checkedHandle(
    entry: EntryRecord,
    waitedMs: number,
  ): Promise<CacheHandle | undefined> {
    const path = join(this.dataDir, entry.file);
    let ok = false;
    try {
      const st = lstatSync(path);
      ok = st.isFile() && st.size === entry.size;
    } catch {}
    if (ok) return this.makeHandle(entry, true, waitedMs);
    // Damaged behind our back (deleted or truncated by hand): forget it and fill again.
    await this.locked(undefined, () => {
      const now = this.state.entries.get(entry.key);
      this.unpinStep(entry.key);
      if (now?.file === entry.file) {
        this.emit('warning', 'cache.corrupt', {
          attrs: { key: entry.key, reason: 'file missing or wrong size' },
        });
        this.record([{ o: 'evict', k: entry.key }]);
        unlinkQuiet(path);
      }
    });
    return undefined;
  }

  private makeHandle(
    entry: EntryRecord,
    hit: boolean,
    waitedMs: number,
    fast = false,
  ): CacheHandle {
    const fields = {
      key: entry.key,
      path: join(this.dataDir, entry.file),
      size: entry.size,
      hash: entry.hash,
      hit,
      localOnly: entry.local,
      waitedMs,
    };
    const token = {};
    const handle = makeDisposable(fields, () => {
      this.leaks.unregister(token);
      return fast ? this.releaseFast(entry.key) : this.release(entry.key);
    });
    this.leaks.register(handle, { key: entry.key, fast }, token);
    return Object.assign(handle, { release: handle.dispose });
  }

  /**
   * Unpins `key`. The record is deferred to the next lock session of this process (its next
   * operation, or the next event-loop turn at the latest), so an acquire that follows a release
   * takes the lock once for both.
   */
  private async release(key: string): Promise<void> {
    if (this.closed) return;
    const time = this.now(); // the entry was in use until now, not until the record is written
    this.queueOp({ o: 'unpin', k: key, w: this.owner, t: time }, true);
  }

  /** Releases a lockless pin: rewrite the pin file now, the LRU touch goes with the next session. */
  private async releaseFast(key: string): Promise<void> {
    if (this.closed) return;
    this.changeFastPin(key, -1);
    this.queueOp({ o: 'touch', k: key, t: this.now() }, false);
  }

  // ---------------------------------------------------------------------------------------------
  // Lock, journal and recovery.

  /**
   * Runs `fn` under the cache lock, after reading what other processes appended. Calls queue up
   * and one lock session runs every queued step, so concurrent operations of this process (and
   * deferred releases) share one lock cycle. Uncontended, the session runs synchronously.
   */
  private locked<T>(signal: AbortSignal | undefined, fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.tasks.push({
        signal,
        fail: reject,
        run: () => {
          try {
            resolve(fn());
          } catch (err) {
            reject(err);
          }
        },
      });
      this.drain();
    });
  }

  /** Queues a step without waiting for it: it runs in the next lock session (at most one turn away). */
  private deferLocked(fn: () => void): void {
    this.tasks.push({
      signal: undefined,
      run: fn,
      fail: (err) =>
        this.emit('warning', 'cache.deferred_failed', {
          attrs: { error: err instanceof Error ? err.message : String(err) },
        }),
    });
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    setImmediate(() => {
      this.drainScheduled = false;
      this.drain();
    });
  }

  private drain(): void {
    // In a session (an event listener calling the cache), the session's loop runs new tasks.
    if (this.draining || this.inSession || this.tasks.length === 0) return;
    if (this.lock.tryAcquire()) {
      this.runSession();
      return;
    }
    this.draining = true;
    void this.waitAndDrain();
  }

  private async waitAndDrain(): Promise<void> {
    const started = performance.now();
    try {
      for (let attempt = 0; ; attempt++) {
        for (const task of this.tasks.filter((t) => t.signal?.aborted)) {
          this.tasks.splice(this.tasks.indexOf(task), 1);
          task.fail(signalReason(task.signal!));
        }
        if (this.tasks.length === 0) return;
        if (this.lock.tryAcquire()) {
          this.runSession();
          if (this.tasks.length === 0) return;
        }
        await this.lock.pause(started, attempt);
      }
    } catch (err) {
      for (const task of this.tasks.splice(0)) task.fail(err);
    } finally {
      this.draining = false;
    }
  }

  /** One lock session: the lock is held on entry and released on exit. */
  private runSession(): void {
    this.inSession = true;
    try {
      this.recoveredThisLock = false;
      this.sync();
      this.flushPending();
      // Steps may queue more steps (an event listener calling the cache): they run here too.
      while (this.tasks.length > 0) {
        const task = this.tasks.shift()!;
        if (task.signal?.aborted) task.fail(signalReason(task.signal));
        else task.run();
      }
      if (this.journal.size > this.compactAt) this.compact();
    } catch (err) {
      for (const task of this.tasks.splice(0)) task.fail(err);
    } finally {
      this.inSession = false;
      this.lock.release();
    }
  }

  private sync(): void {
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
    const broke = this.lock.brokeStale;
    this.lock.brokeStale = false;
    if (read.missing) {
      this.journal.rewrite(this.state.snapshot(), this.fsync);
      this.recover('no journal');
    } else if (read.corrupt > 0) this.recover(`${read.corrupt} unreadable journal lines`);
    else if (broke) this.recover('a process died holding the cache lock');
    else if (read.torn) this.recover('a torn journal record');
  }

  /** Appends ops to the journal and applies them to the state. */
  private record(ops: readonly JournalOp[], durable = false): void {
    this.journal.append(ops, durable);
    for (const op of ops) this.state.apply(op);
  }

  private compact(): void {
    this.journal.rewrite(this.state.snapshot(), this.fsync);
    this.compactAt = Math.max(COMPACT_MIN_BYTES, this.journal.size * 4);
  }

  /**
   * Rebuilds the state against the disk: drops dead processes, deletes temp files nobody live is
   * writing, deletes files without a record, drops records whose file is missing or has another
   * size, then compacts. Afterwards usage equals the bytes on disk exactly.
   */
  private recover(reason: string): void {
    this.recoveredThisLock = true;
    const started = performance.now();
    this.reapDeadOwners();
    this.removeStrayTemps();
    const files = this.scanData();
    const drop: string[] = [];
    let removedFiles = 0;
    for (const entry of this.state.entries.values()) {
      const st = files.get(entry.file);
      files.delete(entry.file);
      if (st?.isFile() && st.size === entry.size) continue;
      drop.push(entry.key);
      if (st) unlinkQuiet(join(this.dataDir, entry.file));
    }
    if (drop.length > 0) this.record(drop.map((k) => ({ o: 'evict', k }) as const));
    for (const file of files.keys()) {
      unlinkQuiet(join(this.dataDir, file));
      removedFiles++;
    }
    this.compact();
    this.emit('info', 'cache.recover', {
      durationMs: performance.now() - started,
      counters: { droppedRecords: drop.length, removedFiles, entries: this.state.entries.size },
      attrs: { reason },
    });
  }

  /** All files under data/, by path relative to data/ (symlinks and junk are deleted on sight). */
  private scanData(): Map<string, Stats> {
    const out = new Map<string, Stats>();
    for (const name of readdirSync(this.dataDir)) {
      const sub = join(this.dataDir, name);
      const st = lstatSync(sub);
      if (!st.isDirectory() || !/^[0-9a-f]{2}$/.test(name)) {
        if (!st.isDirectory()) unlinkQuiet(sub);
        continue;
      }
      for (const file of readdirSync(sub)) {
        const fst = lstatSync(join(sub, file));
        out.set(`${name}/${file}`, fst);
      }
    }
    return out;
  }

  /** Deletes temp files whose owner holds no live claim on them, and lock tokens of dead owners. */
  private removeStrayTemps(): void {
    const tokens = join(this.dir, 'owners');
    for (const name of existsSync(tokens) ? readdirSync(tokens) : []) {
      if (name !== this.owner && !this.isAlive(name)) unlinkQuiet(join(tokens, name));
    }
    const claimed = new Set<string>();
    for (const claim of this.state.claims.values()) claimed.add(claim.tmp);
    const owners = this.state.allOwners();
    for (const name of readdirSync(this.tmpDir)) {
      if (claimed.has(name)) continue;
      // Files a live filler made next to its tmpPath (e.g. `<tmpPath>.part`) stay while it runs.
      const owner = name.slice(0, name.indexOf('~'));
      if (owner !== this.owner && owners.has(owner) && this.isAlive(owner)) continue;
      unlinkQuiet(join(this.tmpDir, name));
    }
  }

  private reapDeadOwners(): void {
    for (const owner of this.state.allOwners()) if (!this.isAlive(owner)) this.reapOwner(owner);
  }

  private reapOwner(owner: string): void {
    for (const claim of this.state.claims.values())
      if (claim.owner === owner) unlinkQuiet(join(this.tmpDir, claim.tmp));
    this.record([{ o: 'close', w: owner }]);
    this.emit('warning', 'cache.reap', { attrs: { owner, reason: 'process is gone' } });
  }

  private isAlive(owner: string): boolean {
    if (owner === this.owner) return !this.closed;
    const id = parseIdentity(owner);
    return id !== undefined && isProcessAlive(id);
  }

  // ---------------------------------------------------------------------------------------------

  private inflightKey(key: string): string {
    return `${this.dir}\0${key}`;
  }

  private noteWait(key: string, started: number): void {
    const ms = performance.now() - started;
    this.counters.waits++;
    this.counters.waitMs += ms;
    this.emit('metric', 'cache.wait', { durationMs: ms, attrs: { key } });
  }

  private assertOpen(): void {
    if (this.closed) {
      throw new StreamsError('STREAMS_INVALID_ARGUMENT', '[streams/cache] the cache is closed', {
        fix: 'open a new cache with openCache()',
      });
    }
  }

  private emit(
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
function ensureRealDir(path: string): void {
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

function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

async function hashFile(path: string, algo: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash(algo);
  for await (const chunk of createReadStream(path, { signal })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
