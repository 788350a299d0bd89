import { join } from 'node:path';
import { formatBytes, StreamsError } from '@streams/core';
import { type CacheCore, unlinkQuiet } from './cacheCore.js';
import type { JournalOp } from './cacheState.js';
import type { FastPins } from './fastPins.js';
import { reapDeadOwners } from './recovery.js';

/** Why an entry was evicted (the `reason` of `cache.evict` events). */
export type EvictReason = 'lru' | 'ttl' | 'budget' | 'remove' | 'corrupt';

/**
 * Keeps the budget, under the lock: evicts least recently used unpinned entries to make room,
 * and records and deletes entries. Lockless pins are read from every pin file before and after
 * each eviction record, so a reader that pinned meanwhile keeps its entry.
 */
export class Eviction {
  constructor(
    private readonly core: CacheCore,
    private readonly pins: FastPins,
  ) {}

  /** Evicts LRU entries so that `need` more bytes fit; throws STREAMS_CACHE_TOO_SMALL when impossible. */
  makeRoom(key: string, need: number, reason: 'lru' | 'budget' = 'lru'): void {
    const state = () => this.core.state;
    const fits = () => state().usage + state().reserved + need <= state().budget;
    if (fits()) return;
    const budget = state().budget;
    if (need > budget - state().localBytes) throw this.tooSmall(key, need);
    let reaped = false;
    // Each round evicts, or finds an entry pinned by a lockless reader and keeps it (it is pinned
    // from then on), so this ends.
    for (;;) {
      this.pins.refresh();
      let plan = state().planEviction(need);
      if (plan === undefined && !reaped) {
        // Pins and reservations of dead processes are the usual reason: drop them and look again.
        reaped = true;
        reapDeadOwners(this.core);
        this.pins.refresh();
        plan = state().planEviction(need);
      }
      if (plan === undefined) throw this.tooSmall(key, need);
      this.evict(plan, reason);
      if (fits()) return;
    }
  }

  /**
   * Records and deletes `keys`; returns the bytes freed. Lockless readers pin without the lock, so
   * after recording the evictions the pin files are read again: a reader that pinned before our
   * record was written is seen there and its entry is restored instead of deleted, and a reader
   * that pinned after sees the eviction record and takes the locked path (see README).
   */
  evict(keys: readonly string[], reason: EvictReason, ignoreOwnPins = false): number {
    if (keys.length === 0) return 0;
    const core = this.core;
    const entries = keys.map((k) => core.state.entries.get(k)!);
    // Record first: a crash between the two leaves files without records, which recovery deletes.
    core.record(keys.map((k) => ({ o: 'evict', k }) as const));
    this.pins.refresh();
    const restore = entries.filter((e) =>
      ignoreOwnPins ? this.pins.pinnedByOthers(e.key) : core.state.external.has(e.key),
    );
    if (restore.length > 0) {
      core.record(
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
      unlinkQuiet(join(core.dataDir, entry.file));
      freed += entry.size;
      core.counters.evictions++;
      core.counters.evictedBytes += entry.size;
      core.emit('evict', 'cache.evict', { bytes: entry.size, attrs: { key: entry.key, reason } });
    }
    return freed;
  }

  private tooSmall(key: string, need: number): StreamsError {
    const s = this.core.state;
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
}
