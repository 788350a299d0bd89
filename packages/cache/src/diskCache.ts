import { createHash, getHashes } from 'node:crypto';
import { createReadStream, lstatSync, mkdirSync, readdirSync, realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  isAbortError,
  isStreamsError,
  makeDisposable,
  parseBytes,
  raceSignal,
  StreamsError,
  type StreamsEventListener,
  settings,
  sleep,
  throwIfAborted,
} from '@streams/core';
import { CacheCore, ensureRealDir, unlinkQuiet } from './cacheCore.js';
import { validateKey } from './cacheKey.js';
import type {
  AcquireOptions,
  CacheAudit,
  CacheEntryInfo,
  CacheHandle,
  CacheOptions,
  CacheStats,
  GcResult,
} from './cacheOptions.js';
import type { ClaimRecord, EntryRecord } from './cacheState.js';
import { DirLock } from './dirLock.js';
import { Eviction } from './eviction.js';
import { FastPins } from './fastPins.js';
import { type Filler, Fills } from './fills.js';
import { LockSessions } from './lockSessions.js';
import { formatIdentity, selfIdentity } from './processIdentity.js';
import { reapDeadOwners, reapOwner, recover, removeStrayTemps, scanData } from './recovery.js';
import { tempName } from './tempNames.js';

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
 *
 * This class is the API and the handles; the parts live in their own files: `lockSessions.ts`
 * (steps under the lock), `fastPins.ts` (lockless hits), `recovery.ts` (crash recovery),
 * `eviction.ts` (the budget) and `fills.ts` (misses), sharing one `CacheCore`.
 */
export class DiskCache implements AsyncDisposable {
  readonly dir: string;
  readonly owner: string;
  private readonly limit: number;
  private readonly core: CacheCore;
  private readonly lock: DirLock;
  private readonly sessions: LockSessions;
  private readonly pins: FastPins;
  private readonly eviction: Eviction;
  private readonly fills: Fills;
  private readonly verifyMode: 'size' | 'hash';
  private readonly ttlMs: number | undefined;
  private readonly gcIntervalMs: number;
  private gcTimer: NodeJS.Timeout | undefined;
  /** Handles garbage-collected without a release: their pins are dropped and a warning emitted. */
  private readonly leaks = new FinalizationRegistry<{ key: string; fast: boolean }>((held) => {
    if (this.core.closed) return;
    this.core.emit('warning', 'cache.handle_leaked', {
      attrs: { key: held.key, fix: 'release handles (or use `await using`) when done reading' },
    });
    void (held.fast ? this.releaseFast(held.key) : this.release(held.key));
  });
  private tmpSeq = 0;
  private registered = false;
  /** Set when the current lock session already ran a recovery. */
  private recovered = false;

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
    this.owner = `${formatIdentity(selfIdentity())}.${Date.now().toString(36)}${(++instances).toString(36)}`;
    const core = new CacheCore(
      this.dir,
      this.owner,
      options.fsync ?? true,
      options.now ?? Date.now,
    );
    this.core = core;
    ensureRealDir(core.dataDir);
    ensureRealDir(core.tmpDir);
    // The lock lives in a directory of its own, next to nothing that changes on every operation.
    ensureRealDir(join(this.dir, 'lock'));
    this.lock = new DirLock(join(this.dir, 'lock', 'held'), this.owner, join(this.dir, 'owners'));
    ensureRealDir(core.pinDir);
    this.sessions = new LockSessions(this.lock, {
      begin: () => {
        this.recovered = false;
        const broke = this.lock.brokeStale;
        this.lock.brokeStale = false;
        const reason = core.catchUp(broke);
        if (reason !== undefined) this.recover(reason);
        this.pins.flush();
      },
      end: () => core.compactIfLarge(),
      warn: (err) =>
        core.emit('warning', 'cache.deferred_failed', {
          attrs: { error: err instanceof Error ? err.message : String(err) },
        }),
    });
    this.pins = new FastPins(core, () => this.sessions.schedule());
    this.eviction = new Eviction(core, this.pins);
    this.fills = new Fills(core, this.sessions, this.eviction);
    this.verifyMode = options.verify ?? 'size';
    this.ttlMs = options.ttlMs;
    this.gcIntervalMs =
      options.gcIntervalMs ??
      (options.ttlMs === undefined ? 0 : Math.min(Math.max(options.ttlMs / 2, 1000), 600_000));
    if (options.onEvent) core.hub.on(options.onEvent);
  }
  /** @internal Opens the journal, reaps dead processes, recovers if needed, registers this process. */
  async init(signal?: AbortSignal): Promise<void> {
    await this.sessions.run(signal, () => {
      const live = [...this.core.state.owners.keys()].filter((w) => this.core.isAlive(w));
      if (live.length === 0 && !this.recovered) this.recover('first process to open');
      else reapDeadOwners(this.core);
      this.core.record([{ o: 'open', w: this.owner, limit: this.limit, t: this.core.now() }]);
      this.registered = true;
      try {
        this.eviction.makeRoom('', 0, 'budget');
      } catch (err) {
        if (!isStreamsError(err, 'STREAMS_CACHE_TOO_SMALL')) throw err;
        this.core.emit('warning', 'cache.over_budget', {
          attrs: { usage: this.core.state.usage, budget: this.core.state.budget },
        });
      }
    });
    if (this.verifyMode === 'hash') await this.verify({ signal });
    if (this.ttlMs !== undefined) await this.gc();
    if (this.gcIntervalMs > 0) {
      this.gcTimer = setInterval(() => {
        this.gc().catch((err: unknown) =>
          this.core.emit('warning', 'cache.gc_failed', { attrs: { error: String(err) } }),
        );
      }, this.gcIntervalMs);
      this.gcTimer.unref();
    }
  }

  /** Adds an event listener; returns a function that removes it. */
  on(listener: StreamsEventListener): () => void {
    return this.core.hub.on(listener);
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
      this.core.counters.hits++;
      if (this.core.hub.active) this.core.emit('metric', 'cache.hit', { attrs: { key } });
      return fast;
    }
    for (;;) {
      throwIfAborted(signal);
      const step = await this.sessions.run(signal, () => this.acquireStep(key, options));
      if (step.kind === 'hit') {
        const handle = await this.checkedHandle(
          step.entry,
          waited ? performance.now() - started : 0,
        );
        if (handle) {
          this.core.counters.hits++;
          if (waited) this.noteWait(key, started);
          if (this.core.hub.active) this.core.emit('metric', 'cache.hit', { attrs: { key } });
          return handle;
        }
        continue; // the file was damaged and is gone now: fill it again
      }
      if (step.kind === 'claimed') {
        this.core.counters.misses++;
        if (waited) this.noteWait(key, started);
        if (this.core.hub.active) this.core.emit('metric', 'cache.miss', { attrs: { key } });
        return this.runFill(step.claim, fill, options, waited ? performance.now() - started : 0);
      }
      waited = true;
      // A fill in this process: wait on its promise. Another process: poll, backing off to 50 ms.
      const local = this.fills.inProcess(key);
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
    return this.sessions.run(undefined, () => this.core.state.entries.has(key));
  }

  /**
   * Removes `key` now (for example a file a decoder found broken), unless another process or cache
   * instance pins it; this instance's own pins do not prevent it (open file descriptors stay
   * readable). Returns whether the entry was removed. Local-only entries are removed too.
   */
  async remove(key: string, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    validateKey(key);
    this.assertOpen();
    return this.sessions.run(options.signal, () => {
      const entry = this.core.state.entries.get(key);
      if (!entry) return false;
      for (const owner of this.core.state.pins.get(key)?.keys() ?? [])
        if (owner !== this.owner && this.core.isAlive(owner)) return false;
      this.pins.refresh();
      if (this.pins.pinnedByOthers(key)) return false;
      return this.eviction.evict([key], 'remove', true) > 0 || !this.core.state.entries.has(key);
    });
  }

  /** Counters of this process and shared usage as of the last operation. */
  stats(): CacheStats {
    // Write deferred releases first when the lock is free (synchronous), so pins are current.
    if (!this.core.closed) this.sessions.drain();
    this.pins.merge();
    const s = this.core.state;
    return {
      ...this.core.counters,
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
    await this.sessions.run(signal, () => undefined);
    return this.stats();
  }

  /**
   * Removes entries unused for `ttlMs` (never pinned or local-only ones), claims and temp files of
   * dead processes, and compacts the journal.
   */
  async gc(options: { signal?: AbortSignal } = {}): Promise<GcResult> {
    this.assertOpen();
    return this.sessions.run(options.signal, () => {
      reapDeadOwners(this.core);
      removeStrayTemps(this.core);
      const keys: string[] = [];
      this.pins.refresh();
      if (this.ttlMs !== undefined) {
        const cutoff = this.core.now() - this.ttlMs;
        for (const [key, entry] of this.core.state.entries) {
          if (entry.local || this.core.state.isPinned(key)) continue;
          if (entry.usedAt <= cutoff) keys.push(key);
        }
      }
      const freedBytes = this.eviction.evict(keys, 'ttl');
      this.core.compact();
      const result = { removed: keys.length, freedBytes };
      this.core.emit('info', 'cache.gc', { counters: { ...result } });
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
    const entries = await this.sessions.run(options.signal, () => [
      ...this.core.state.entries.values(),
    ]);
    let checked = 0;
    let removed = 0;
    for (const entry of entries) {
      throwIfAborted(options.signal);
      const algo = entry.hash?.slice(0, entry.hash.indexOf(':'));
      if (!algo || !known.has(algo)) continue;
      let actual: string | undefined;
      try {
        actual = `${algo}:${await hashFile(join(this.core.dataDir, entry.file), algo, options.signal)}`;
      } catch (err) {
        if (isAbortError(err)) throw err;
      }
      checked++;
      if (actual === entry.hash) continue;
      const gone = this.sessions.run(options.signal, () => {
        const now = this.core.state.entries.get(entry.key);
        if (now?.file !== entry.file || now.hash !== entry.hash) return false;
        this.core.emit('warning', 'cache.corrupt', {
          attrs: { key: entry.key, reason: 'hash mismatch' },
        });
        // A reader still holds it: it goes when released and checked again.
        this.pins.refresh();
        if (this.core.state.isPinned(entry.key)) return false;
        return this.eviction.evict([entry.key], 'corrupt') > 0;
      });
      if (await gone) removed++;
    }
    return { checked, removed };
  }

  /** Every entry, least recently used first (the order in which LRU eviction would remove them). */
  async list(signal?: AbortSignal): Promise<CacheEntryInfo[]> {
    this.assertOpen();
    return this.sessions.run(signal, () => {
      this.pins.refresh();
      return [...this.core.state.entries.values()].map((e) => {
        const pins = this.core.state.pins.get(e.key);
        let total = this.core.state.external.get(e.key) ?? 0;
        for (const n of pins?.values() ?? []) total += n;
        return {
          key: e.key,
          path: join(this.core.dataDir, e.file),
          size: e.size,
          hash: e.hash,
          localOnly: e.local,
          pins: total,
          ownPins: (pins?.get(this.owner) ?? 0) + this.pins.ownPins(e.key),
          usedAt: e.usedAt,
        };
      });
    });
  }

  /** Compares records with the files on disk, under the lock (a consistency check for tools and tests). */
  async audit(signal?: AbortSignal): Promise<CacheAudit> {
    this.assertOpen();
    return this.sessions.run(signal, () => {
      const problems: string[] = [];
      const files = scanData(this.core);
      let dataBytes = 0;
      for (const st of files.values()) dataBytes += st.size;
      for (const entry of this.core.state.entries.values()) {
        const st = files.get(entry.file);
        if (!st) problems.push(`${entry.key}: file ${entry.file} is missing`);
        else if (st.size !== entry.size)
          problems.push(`${entry.key}: ${st.size} bytes on disk, ${entry.size} recorded`);
        files.delete(entry.file);
      }
      for (const file of files.keys()) problems.push(`data/${file} has no record`);
      let tmpBytes = 0;
      for (const name of readdirSync(this.core.tmpDir)) {
        try {
          tmpBytes += lstatSync(join(this.core.tmpDir, name)).size;
        } catch {}
      }
      const s = this.core.state;
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
    if (this.core.closed) return;
    this.core.closed = true;
    if (this.gcTimer) clearInterval(this.gcTimer);
    await this.fills.close();
    try {
      await this.sessions.run(undefined, () => this.core.record([{ o: 'close', w: this.owner }]));
    } finally {
      this.pins.close();
      this.core.journal.close();
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
    this.core.closed = true;
    if (this.gcTimer) clearInterval(this.gcTimer);
    this.pins.close();
    this.core.journal.close();
    this.lock.dispose();
  }

  private acquireStep(key: string, options: AcquireOptions): Step {
    const entry = this.core.state.entries.get(key);
    if (entry) {
      this.core.record([{ o: 'pin', k: key, w: this.owner, t: this.core.now() }]);
      return { kind: 'hit', entry };
    }
    const claim = this.core.state.claims.get(key);
    if (claim) {
      if (claim.owner === this.owner || this.core.isAlive(claim.owner))
        return { kind: 'wait', owner: claim.owner };
      reapOwner(this.core, claim.owner);
    }
    const reserve = options.expectedSize ?? 0;
    this.eviction.makeRoom(key, reserve);
    const tmp = tempName(this.owner, ++this.tmpSeq);
    this.core.record([{ o: 'claim', k: key, w: this.owner, r: reserve, tmp, t: this.core.now() }]);
    return { kind: 'claimed', claim: this.core.state.claims.get(key)! };
  }

  /** A lockless hit (see {@link FastPins.tryHit}), or undefined to take the locked path. */
  private fastHit(key: string): CacheHandle | undefined {
    const entry = this.pins.tryHit(key);
    if (!entry) return undefined;
    this.pins.queue({ o: 'touch', k: key, t: this.core.now() }, false);
    return this.makeHandle(entry, true, 0, true);
  }

  /** Runs the fill of a claim this instance holds and hands back the pinned entry. */
  private async runFill(
    claim: ClaimRecord,
    fill: Filler,
    options: AcquireOptions,
    waitedMs: number,
  ): Promise<CacheHandle> {
    const { signal } = options;
    const done = this.fills.start(claim, fill, options);
    try {
      // Fills of one caller in flight share its signal: one listener on it, not one each.
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

  /** Recovers under the lock (see recovery.ts); once per lock session. */
  private recover(reason: string): void {
    this.recovered = true;
    recover(this.core, reason);
  }

  private unpinStep(key: string, time = this.core.now()): void {
    if (this.core.state.pins.get(key)?.has(this.owner))
      this.core.record([{ o: 'unpin', k: key, w: this.owner, t: time }]);
  }

  /** A handle after a hit, or undefined when the file is missing or has the wrong size (then dropped). */
  private async checkedHandle(
    entry: EntryRecord,
    waitedMs: number,
  ): Promise<CacheHandle | undefined> {
    const path = join(this.core.dataDir, entry.file);
    let ok = false;
    try {
      const st = lstatSync(path);
      ok = st.isFile() && st.size === entry.size;
    } catch {}
    if (ok) return this.makeHandle(entry, true, waitedMs);
    // Damaged behind our back (deleted or truncated by hand): forget it and fill again.
    await this.sessions.run(undefined, () => {
      const now = this.core.state.entries.get(entry.key);
      this.unpinStep(entry.key);
      if (now?.file === entry.file) {
        this.core.emit('warning', 'cache.corrupt', {
          attrs: { key: entry.key, reason: 'file missing or wrong size' },
        });
        this.core.record([{ o: 'evict', k: entry.key }]);
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
      path: join(this.core.dataDir, entry.file),
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
    if (this.core.closed) return;
    const time = this.core.now(); // the entry was in use until now, not until the record is written
    this.pins.queue({ o: 'unpin', k: key, w: this.owner, t: time }, true);
  }

  /** Releases a lockless pin: rewrite the pin file now, the LRU touch goes with the next session. */
  private async releaseFast(key: string): Promise<void> {
    if (this.core.closed) return;
    this.pins.change(key, -1);
    this.pins.queue({ o: 'touch', k: key, t: this.core.now() }, false);
  }

  private noteWait(key: string, started: number): void {
    const ms = performance.now() - started;
    this.core.counters.waits++;
    this.core.counters.waitMs += ms;
    this.core.emit('metric', 'cache.wait', { durationMs: ms, attrs: { key } });
  }

  private assertOpen(): void {
    if (this.core.closed) {
      throw new StreamsError('STREAMS_INVALID_ARGUMENT', '[streams/cache] the cache is closed', {
        fix: 'open a new cache with openCache()',
      });
    }
  }
}

async function hashFile(path: string, algo: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash(algo);
  for await (const chunk of createReadStream(path, { signal })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
