/** One cached file. */
export interface EntryRecord {
  key: string;
  /** Path relative to `data/`. */
  file: string;
  size: number;
  /** `algo:hex` as returned by the filler, when it gave one. */
  hash: string | undefined;
  /** The only copy is local (no remote): never evicted, counted in usage. */
  local: boolean;
  /** Logical time of the last pin or unpin (the LRU order). */
  tick: number;
  /** Wall time of the last pin or unpin, for TTL garbage collection. */
  usedAt: number;
}

/** A fill in progress: `owner` writes `tmp/<tmp>` and holds `reserve` bytes of the budget. */
export interface ClaimRecord {
  key: string;
  owner: string;
  reserve: number;
  tmp: string;
  since: number;
}

/** The journal's operations. Each line of the journal file is one of these as JSON. */
export type JournalOp =
  | {
      o: 'snapshot';
      v: 1;
      clock: number;
      /** [key, file, size, hash, local, tick, usedAt], least recently used first. */
      entries: Array<[string, string, number, string | null, 0 | 1, number, number]>;
      owners: Array<[string, number]>;
      pins: Array<[string, string, number]>;
      claims: Array<[string, string, number, string, number]>;
    }
  | { o: 'open'; w: string; limit: number; t: number }
  | { o: 'close'; w: string }
  | { o: 'claim'; k: string; w: string; r: number; tmp: string; t: number }
  | { o: 'reserve'; k: string; r: number }
  | { o: 'abort'; k: string }
  | { o: 'commit'; k: string; f: string; s: number; h?: string; l?: 1; w: string; t: number }
  | { o: 'pin'; k: string; w: string; t: number }
  | { o: 'unpin'; k: string; w: string; t: number }
  | { o: 'evict'; k: string }
  /** A use of an entry pinned outside the journal (a lockless hit or its release): LRU only. */
  | { o: 'touch'; k: string; t: number }
  /** An eviction undone because a lockless pin appeared while it was being decided. */
  | { o: 'restore'; k: string; f: string; s: number; h?: string; l?: 1; t: number };

/**
 * The shared cache state, rebuilt by every process from the journal: entries in LRU order, pins per
 * owner, fills in progress with their reservations, and the processes that have the cache open.
 * Pure and synchronous: it never touches the disk, so it is tested on its own.
 */
export class CacheState {
  /** Insertion order is the LRU order: a touch deletes and re-inserts. */
  readonly entries = new Map<string, EntryRecord>();
  readonly pins = new Map<string, Map<string, number>>();
  readonly claims = new Map<string, ClaimRecord>();
  /** Open owners and the budget each was given. */
  readonly owners = new Map<string, number>();
  clock = 0;
  /** Bytes of committed entries (local-only included). */
  usage = 0;
  /** Bytes of local-only entries. */
  localBytes = 0;
  /** Bytes reserved by fills in progress. */
  reserved = 0;

  /** The effective budget: the smallest limit among open owners, so no process's limit is exceeded. */
  get budget(): number {
    let min = Number.POSITIVE_INFINITY;
    for (const limit of this.owners.values()) min = Math.min(min, limit);
    return min;
  }

  /**
   * Pins held outside the journal (lockless hits, published in per-owner pin files), by key. The
   * cache refreshes this before every decision that could evict.
   */
  external = new Map<string, number>();

  /** Bytes of entries pinned by at least one owner. */
  get pinnedBytes(): number {
    let total = 0;
    for (const key of this.pins.keys()) total += this.entries.get(key)?.size ?? 0;
    for (const key of this.external.keys())
      if (!this.pins.has(key)) total += this.entries.get(key)?.size ?? 0;
    return total;
  }

  /** True when some owner pins `key`. */
  isPinned(key: string): boolean {
    return this.pins.has(key) || this.external.has(key);
  }

  /** Applies one journal operation. */
  apply(op: JournalOp): void {
    switch (op.o) {
      case 'snapshot':
        this.load(op);
        return;
      case 'open':
        this.owners.set(op.w, op.limit);
        return;
      case 'close':
        this.dropOwner(op.w);
        return;
      case 'claim':
        this.dropClaim(op.k);
        this.claims.set(op.k, { key: op.k, owner: op.w, reserve: op.r, tmp: op.tmp, since: op.t });
        this.reserved += op.r;
        return;
      case 'reserve': {
        const claim = this.claims.get(op.k);
        if (!claim) return;
        this.reserved += op.r - claim.reserve;
        claim.reserve = op.r;
        return;
      }
      case 'abort':
        this.dropClaim(op.k);
        return;
      case 'commit': {
        this.dropClaim(op.k);
        this.removeEntry(op.k);
        const entry = this.addEntry(op);
        this.addPin(op.k, op.w, 1);
        this.touch(entry, op.t);
        return;
      }
      case 'pin': {
        this.addPin(op.k, op.w, 1);
        const entry = this.entries.get(op.k);
        if (entry) this.touch(entry, op.t);
        return;
      }
      case 'unpin': {
        this.addPin(op.k, op.w, -1);
        const entry = this.entries.get(op.k);
        if (entry) this.touch(entry, op.t);
        return;
      }
      case 'evict':
        this.removeEntry(op.k);
        return;
      case 'touch': {
        const entry = this.entries.get(op.k);
        if (entry) this.touch(entry, op.t);
        return;
      }
      case 'restore': {
        if (this.entries.has(op.k)) return;
        const entry = this.addEntry(op);
        this.touch(entry, op.t);
        return;
      }
    }
  }

  /**
   * The least recently used unpinned, evictable entries whose removal makes room for `need` more
   * bytes within the budget; `[]` when nothing must go, undefined when even evicting every
   * candidate would not be enough.
   */
  planEviction(need: number, budget = this.budget): string[] | undefined {
    let excess = this.usage + this.reserved + need - budget;
    if (excess <= 0) return [];
    const keys: string[] = [];
    for (const [key, entry] of this.entries) {
      if (entry.local || this.isPinned(key)) continue;
      keys.push(key);
      excess -= entry.size;
      if (excess <= 0) return keys;
    }
    return undefined;
  }

  /** All owner ids that hold anything: open owners, pins and claims. */
  allOwners(): Set<string> {
    const out = new Set(this.owners.keys());
    for (const byOwner of this.pins.values()) for (const w of byOwner.keys()) out.add(w);
    for (const claim of this.claims.values()) out.add(claim.owner);
    return out;
  }

  /** The whole state as one journal line (the first line after a compaction). */
  snapshot(): Extract<JournalOp, { o: 'snapshot' }> {
    return {
      o: 'snapshot',
      v: 1,
      clock: this.clock,
      entries: [...this.entries.values()].map((e) => [
        e.key,
        e.file,
        e.size,
        e.hash ?? null,
        e.local ? 1 : 0,
        e.tick,
        e.usedAt,
      ]),
      owners: [...this.owners],
      pins: [...this.pins].flatMap(([k, byOwner]) =>
        [...byOwner].map(([w, n]): [string, string, number] => [k, w, n]),
      ),
      claims: [...this.claims.values()].map((c) => [c.key, c.owner, c.reserve, c.tmp, c.since]),
    };
  }

  private load(s: Extract<JournalOp, { o: 'snapshot' }>): void {
    this.entries.clear();
    this.pins.clear();
    this.claims.clear();
    this.owners.clear();
    this.usage = 0;
    this.localBytes = 0;
    this.reserved = 0;
    this.clock = s.clock;
    for (const [key, file, size, hash, local, tick, usedAt] of s.entries) {
      this.entries.set(key, {
        key,
        file,
        size,
        hash: hash ?? undefined,
        local: local === 1,
        tick,
        usedAt,
      });
      this.usage += size;
      if (local === 1) this.localBytes += size;
    }
    for (const [w, limit] of s.owners) this.owners.set(w, limit);
    for (const [k, w, n] of s.pins) this.addPin(k, w, n);
    for (const [key, owner, reserve, tmp, since] of s.claims) {
      this.claims.set(key, { key, owner, reserve, tmp, since });
      this.reserved += reserve;
    }
  }

  private touch(entry: EntryRecord, time: number): void {
    this.entries.delete(entry.key);
    this.entries.set(entry.key, entry);
    entry.tick = ++this.clock;
    entry.usedAt = time;
  }

  private addPin(key: string, owner: string, delta: number): void {
    let byOwner = this.pins.get(key);
    const n = (byOwner?.get(owner) ?? 0) + delta;
    if (n > 0) {
      if (!byOwner) {
        byOwner = new Map();
        this.pins.set(key, byOwner);
      }
      byOwner.set(owner, n);
    } else if (byOwner) {
      byOwner.delete(owner);
      if (byOwner.size === 0) this.pins.delete(key);
    }
  }

  /** Inserts the entry a commit or restore op records and counts its bytes (the inverse of removeEntry). */
  private addEntry(op: {
    k: string;
    f: string;
    s: number;
    h?: string | undefined;
    l?: 1 | undefined;
    t: number;
  }): EntryRecord {
    const entry: EntryRecord = {
      key: op.k,
      file: op.f,
      size: op.s,
      hash: op.h,
      local: op.l === 1,
      tick: 0,
      usedAt: op.t,
    };
    this.entries.set(op.k, entry);
    this.usage += entry.size;
    if (entry.local) this.localBytes += entry.size;
    return entry;
  }

  private removeEntry(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.usage -= entry.size;
    if (entry.local) this.localBytes -= entry.size;
  }

  private dropClaim(key: string): void {
    const claim = this.claims.get(key);
    if (!claim) return;
    this.claims.delete(key);
    this.reserved -= claim.reserve;
  }

  private dropOwner(owner: string): void {
    this.owners.delete(owner);
    for (const [key, byOwner] of this.pins) {
      byOwner.delete(owner);
      if (byOwner.size === 0) this.pins.delete(key);
    }
    for (const claim of [...this.claims.values()])
      if (claim.owner === owner) this.dropClaim(claim.key);
  }
}
