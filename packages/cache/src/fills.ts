import { lstatSync, readdirSync, renameSync, type Stats } from 'node:fs';
import { mkdir, open, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { StreamsError, whenAborted } from '@streams/core';
import { type CacheCore, ensureRealDir, unlinkQuiet } from './cacheCore.js';
import { entryFile } from './cacheKey.js';
import type { ClaimRecord, EntryRecord, JournalOp } from './cacheState.js';
import type { Eviction } from './eviction.js';
import type { LockSessions } from './lockSessions.js';
import { tempOfSibling } from './tempNames.js';

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
  /**
   * True when the filler fsynced the file at `tmpPath` itself: the cache then does not fsync it
   * again before the commit (one fsync per fill, and none on the thread pool twice).
   */
  synced?: boolean;
}

/** Writes an entry's bytes to `ctx.tmpPath`; called only on a miss. */
export type Filler = (ctx: FillContext) => Promise<FillResult | undefined> | Promise<void>;

/** Fills of the same key in other cache instances of this process, by `dir \0 key`. */
const inflight = new Map<string, Promise<unknown>>();

/**
 * Runs fills of claimed keys: the filler writes into `tmp/`, then the file is checked, made
 * durable and renamed into `data/`, and the commit is recorded under the lock (or, when the fill
 * fails, its temp files and reservation are dropped).
 */
export class Fills {
  private readonly running = new Set<Promise<unknown>>();
  private readonly closer = new AbortController();
  /** Fan-out directories of `data/` made (or found there) by this instance, by name. */
  private readonly fanouts = new Map<string, Promise<void>>();
  /** Temp names of committed fills whose siblings the next sweep deletes. */
  private readonly committed = new Set<string>();
  private sweeping: Promise<void> | undefined;

  constructor(
    private readonly core: CacheCore,
    private readonly sessions: LockSessions,
    private readonly eviction: Eviction,
  ) {}

  /** The fill of `key` running in this process (in any cache instance on the same directory). */
  inProcess(key: string): Promise<unknown> | undefined {
    return inflight.get(this.inflightKey(key));
  }

  /**
   * Runs `fill` for a claim this instance holds; resolves to the committed entry, pinned by this
   * instance. The fill goes on when the caller's `signal` aborts the wait (see DiskCache).
   */
  start(
    claim: ClaimRecord,
    fill: Filler,
    options: { signal?: AbortSignal | undefined; localOnly?: boolean | undefined },
  ): Promise<EntryRecord> {
    // Linked by hand, not AbortSignal.any(): that piles up dependants on the long-lived close
    // and caller signals, one per fill (and costs more per call). Through the fan-out: one
    // listener on each of those signals however many fills are in flight.
    const ctl = new AbortController();
    const fillSignal = ctl.signal;
    const unlinks: (() => void)[] = [];
    const onAbort = (s: AbortSignal) => ctl.abort(s.reason);
    for (const s of [options.signal, this.closer.signal]) {
      if (s === undefined) continue;
      if (s.aborted) ctl.abort(s.reason);
      else unlinks.push(whenAborted(s, onAbort));
    }
    const tmpPath = join(this.core.tmpDir, claim.tmp);
    const started = performance.now();
    const file = entryFile(claim.key);
    // The entry's fan-out directory is made on the thread pool while the fill runs: a mkdir is a
    // journaled metadata write (milliseconds on some disks), and the commit runs on the main
    // thread under the lock, where it now only checks the directory.
    const fanout = this.fanout(file.slice(0, 2));
    const done = (async () => {
      try {
        const result = await fill({
          key: claim.key,
          tmpPath,
          signal: fillSignal,
          reserve: (total) => this.sessions.run(fillSignal, () => this.reserveStep(claim, total)),
        });
        const size = await this.finishTemp(claim.key, tmpPath, result?.synced === true);
        await fanout;
        const entry = await this.sessions.run(undefined, () =>
          this.commitStep(claim, file, size, result?.hash, options.localOnly === true, started),
        );
        this.sweepSiblings(claim.tmp);
        return entry;
      } catch (err) {
        await this.sessions.run(undefined, () => this.abortStep(claim, err));
        throw err;
      } finally {
        for (const unlink of unlinks) unlink();
        // Nothing of this fill touches the directory after it settles (close, then rm, is safe).
        await fanout;
      }
    })();
    const ik = this.inflightKey(claim.key);
    inflight.set(ik, done);
    this.running.add(done);
    done
      .then(
        () => undefined,
        () => undefined,
      )
      .finally(() => {
        if (inflight.get(ik) === done) inflight.delete(ik);
        this.running.delete(done);
      });
    return done;
  }

  /** Aborts every fill of this instance and waits until they have settled. */
  async close(): Promise<void> {
    this.closer.abort();
    await Promise.allSettled([...this.running]);
    await this.sweeping;
  }

  /**
   * Makes `data/<name>` once per instance; never rejects (the commit checks the directory, and
   * makes it itself if it is still missing).
   */
  private fanout(name: string): Promise<void> {
    let made = this.fanouts.get(name);
    if (made === undefined) {
      made = mkdir(join(this.core.dataDir, name)).then(
        () => undefined,
        (err: NodeJS.ErrnoException) => {
          if (err.code !== 'EEXIST') this.fanouts.delete(name);
        },
      );
      this.fanouts.set(name, made);
    }
    return made;
  }

  /**
   * Deletes the files committed fills made next to their tmpPath (`<tmpPath>.part` and the like),
   * after the commit and off the lock: one listing of `tmp/` serves every fill committed while
   * the previous one ran, not one listing per fill. A crash before it leaves them to recovery,
   * which deletes temp files of dead owners.
   */
  private sweepSiblings(tmp: string): void {
    this.committed.add(tmp);
    if (this.sweeping !== undefined) return;
    this.sweeping = (async () => {
      while (this.committed.size > 0) {
        const done = new Set(this.committed);
        this.committed.clear();
        let names: string[] = [];
        try {
          names = await readdir(this.core.tmpDir);
        } catch {}
        const gone: Promise<void>[] = [];
        for (const name of names) {
          const tmp = tempOfSibling(name);
          if (tmp === undefined || !done.has(tmp)) continue;
          gone.push(unlink(join(this.core.tmpDir, name)).catch(() => undefined));
        }
        await Promise.all(gone);
      }
      this.sweeping = undefined;
    })();
  }

  private inflightKey(key: string): string {
    return `${this.core.dir}\0${key}`;
  }

  /** Checks the filler's output and makes it durable; returns its size. */
  private async finishTemp(key: string, tmpPath: string, synced: boolean): Promise<number> {
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
    if (this.core.fsync && !synced) {
      const fh = await open(tmpPath, 'r');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
    return st.size;
  }

  private commitStep(
    claim: ClaimRecord,
    file: string,
    size: number,
    hash: string | undefined,
    local: boolean,
    started: number,
  ): EntryRecord {
    const core = this.core;
    const current = core.state.claims.get(claim.key);
    if (current?.owner !== core.owner || current.tmp !== claim.tmp) {
      throw new StreamsError(
        'STREAMS_INTERNAL',
        `[streams/cache] the claim on "${claim.key}" was lost during its fill`,
      );
    }
    if (size > current.reserve) this.eviction.makeRoom(claim.key, size - current.reserve);
    const fanout = join(core.dataDir, file.slice(0, 2));
    ensureRealDir(core.dataDir);
    ensureRealDir(fanout);
    // Rename first, record second: a crash in between leaves an unrecorded file, which recovery
    // deletes; the reverse order would leave a record whose file never arrived.
    renameSync(join(core.tmpDir, claim.tmp), join(core.dataDir, file));
    const op: JournalOp = {
      o: 'commit',
      k: claim.key,
      f: file,
      s: size,
      w: core.owner,
      t: core.now(),
    };
    if (hash !== undefined) op.h = hash;
    if (local) op.l = 1;
    try {
      // Only a local-only entry's record must survive power loss: it is the data's only copy. A
      // lost record of any other entry makes recovery delete its file, which is a refetch later.
      core.record([op], core.fsync && local);
    } catch (err) {
      unlinkQuiet(join(core.dataDir, file));
      throw err;
    }
    core.counters.fills++;
    core.counters.bytesFilled += size;
    // Emitted under the lock, so listeners see fills, evictions and failures in their true order.
    core.emit('progress', 'cache.fill', {
      bytes: size,
      durationMs: performance.now() - started,
      attrs: { key: claim.key },
    });
    return core.state.entries.get(claim.key)!;
  }

  private abortStep(claim: ClaimRecord, err: unknown): void {
    const core = this.core;
    unlinkQuiet(join(core.tmpDir, claim.tmp));
    this.removeSiblings(claim);
    const current = core.state.claims.get(claim.key);
    if (current?.owner === core.owner && current.tmp === claim.tmp)
      core.record([{ o: 'abort', k: claim.key }]);
    core.counters.fillFailures++;
    core.emit('warning', 'cache.fill_failed', {
      attrs: { key: claim.key, error: err instanceof Error ? err.message : String(err) },
    });
  }

  /** Deletes files a fill made next to its tmpPath (`<tmpPath>.part` and the like). */
  private removeSiblings(claim: ClaimRecord): void {
    for (const name of readdirSync(this.core.tmpDir))
      if (tempOfSibling(name) === claim.tmp) unlinkQuiet(join(this.core.tmpDir, name));
  }

  private reserveStep(claim: ClaimRecord, total: number): void {
    const current = this.core.state.claims.get(claim.key);
    if (current?.owner !== this.core.owner || current.tmp !== claim.tmp) return;
    if (total <= current.reserve) return;
    this.eviction.makeRoom(claim.key, total - current.reserve);
    this.core.record([{ o: 'reserve', k: claim.key, r: total }]);
  }
}
