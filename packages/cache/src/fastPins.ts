import { lstatSync } from 'node:fs';
import { join } from 'node:path';
import type { CacheCore } from './cacheCore.js';
import type { EntryRecord, JournalOp } from './cacheState.js';
import { PinFile, readPinFiles } from './pinFile.js';

/** Records written at the start of the next lock session instead of taking the lock now. */
export type PendingOp = Extract<JournalOp, { o: 'touch' | 'unpin' }>;

/**
 * Pins taken without the lock (see README, "Hits take no lock"): a hit publishes its pin in this
 * instance's pin file, and evicting processes read every pin file before and after recording an
 * eviction. Also holds the records (LRU touches, unpins) deferred to the next lock session.
 */
export class FastPins {
  /** Pins of this instance's lockless hits, published in pins/<owner>. */
  private readonly own = new Map<string, number>();
  private readonly file: PinFile;
  /** Pins of other owners' pin files as last read (under the lock). */
  private others = new Map<string, number>();
  /** Records (touches, unpins) written at the start of the next lock session, in call order. */
  private pending: PendingOp[] = [];
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly core: CacheCore,
    /** Asks for a lock session within one event-loop turn. */
    private readonly requestSession: () => void,
  ) {
    this.file = new PinFile(core.pinDir, core.owner);
  }

  /** Pins of this instance's lockless hits on `key`. */
  ownPins(key: string): number {
    return this.own.get(key) ?? 0;
  }

  /** Whether another owner's pin file pins `key` (as of the last {@link refresh}). */
  pinnedByOthers(key: string): boolean {
    return this.others.has(key);
  }

  /** Reads the other owners' pin files (under the lock) and merges them with this instance's. */
  refresh(): void {
    const core = this.core;
    const read = readPinFiles(core.pinDir, core.owner, (w) => core.isAlive(w));
    this.others = read.pins;
    // An owner whose file cannot be read consistently is assumed to pin everything.
    if (read.unreadable.length > 0)
      for (const key of core.state.entries.keys()) this.others.set(key, 1);
    this.merge();
  }

  /** Makes the state's external pins the sum of the others' (as last read) and this instance's. */
  merge(): void {
    const merged = new Map(this.others);
    for (const [k, n] of this.own) merged.set(k, (merged.get(k) ?? 0) + n);
    this.core.state.external = merged;
  }

  /**
   * The lockless hit: read the journal's new records without the lock; if the entry exists,
   * publish a pin in this instance's pin file, read the journal again, and keep the pin only if
   * no eviction of the entry was recorded in between (and the file has its recorded size).
   * Returns the pinned entry, or undefined to send the caller to the locked path.
   */
  tryHit(key: string): EntryRecord | undefined {
    const core = this.core;
    if (core.closed || !this.catchUp() || !core.state.entries.has(key)) return undefined;
    this.change(key, 1);
    const entry = this.catchUp() ? core.state.entries.get(key) : undefined;
    let ok = false;
    if (entry) {
      try {
        const st = lstatSync(join(core.dataDir, entry.file));
        ok = st.isFile() && st.size === entry.size;
      } catch {}
    }
    if (!entry || !ok) {
      this.change(key, -1);
      return undefined; // the locked path decides (evicted meanwhile, or damaged)
    }
    return entry;
  }

  /** Adds `delta` to this instance's lockless pins of `key` and rewrites the pin file. */
  change(key: string, delta: number): void {
    const n = (this.own.get(key) ?? 0) + delta;
    if (n > 0) this.own.set(key, n);
    else this.own.delete(key);
    this.file.write(this.own);
  }

  /** Queues a record for the next lock session; `urgent` ones get a session within one turn. */
  queue(op: PendingOp, urgent: boolean): void {
    this.pending.push(op);
    if (urgent) {
      this.requestSession();
    } else if (!this.flushTimer) {
      // LRU touches of lockless hits are batched: a process that only hits takes the lock once a second.
      this.flushTimer = setTimeout(() => {
        this.flushTimer = undefined;
        if (!this.core.closed) this.requestSession();
      }, 1000);
      this.flushTimer.unref();
    }
  }

  /** Writes the queued records (under the lock), dropping unpins of pins already gone. */
  flush(): void {
    if (this.pending.length === 0) return;
    const core = this.core;
    const ops = this.pending;
    this.pending = [];
    const held = new Map<string, number>();
    const valid = ops.filter((op) => {
      if (op.o !== 'unpin') return core.state.entries.has(op.k);
      const n = held.get(op.k) ?? core.state.pins.get(op.k)?.get(core.owner) ?? 0;
      held.set(op.k, n - 1);
      return n > 0;
    });
    if (valid.length > 0) core.record(valid);
  }

  /** Drops this instance's lockless pins and closes its pin file. */
  close(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.file.close();
    this.own.clear();
  }

  private catchUp(): boolean {
    if (!this.core.catchUpLockless()) return false;
    this.merge();
    return true;
  }
}
