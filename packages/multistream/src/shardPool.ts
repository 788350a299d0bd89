import { StreamsError } from '@streams/core';
import type { LoadedUnit } from '@streams/index';

interface Entry {
  key: number;
  refs: number;
  /** Bytes counted against the download budget while the load runs. */
  bytes: number;
  /** Bytes it takes in memory: an estimate until loaded, then the unit's own figure. */
  memory: number;
  /** Counted in the pool's resident bytes (started, and not yet let go). */
  resident: boolean;
  /** Kept in memory after its last reference, in case the order returns to it. */
  lingers: boolean;
  started: boolean;
  /** The consumer waits on it: may start beyond the budget (one at a time). */
  urgent: boolean;
  start: () => void;
  /** Settles a load that never started (its last reference went, or the pool closed). */
  cancel: () => void;
  promise: Promise<LoadedUnit>;
  /** Set once the load succeeded: lets the hot path read without awaiting. */
  loaded: LoadedUnit | undefined;
}

/**
 * Reference-counted units (shards, chunks of rows, or one row's files) for the prefetch window. Each planned sample holds a reference on its
 * shard from the moment it enters the window until it is decoded. Loads start in plan order while
 * the bytes downloading stay within `budget`; the shard the consumer waits on starts at once
 * ({@link urge}), one such shard at a time, so a window whose shards are referenced far ahead can
 * never deadlock and loads never exceed the budget by more than one shard. A shard whose last
 * reference goes lingers in memory (least recently used first out, within `lingerBytes`), so a
 * shuffled order that comes back to a shard soon does not read it again.
 *
 * With a `memoryLimit`, a load also starts only while the bytes resident (loading, loaded and
 * lingering) stay within it: lingering shards go first to make room, and the shard the consumer
 * waits on still starts at once, so memory stays within the limit plus that one shard.
 *
 * With `maxDownloads`, at most that many loads that download (`bytes` > 0) run at once, started
 * in plan order: a window of many small loads (one row's files each) ramps up instead of starting
 * all at once, so the loads at its head are not queued behind the work of all the others.
 */
export class ShardPool {
  readonly #entries = new Map<number, Entry>();
  readonly #queue: Entry[] = [];
  /** Loaded shards with no reference, oldest first. */
  readonly #linger = new Map<number, Entry>();
  #lingerBytes = 0;
  #inflightBytes = 0;
  /** Loads with bytes to download, started and not settled. */
  #downloads = 0;
  #residentBytes = 0;
  #overdraft: Entry | undefined;
  /** Every load started and not settled, including those whose entry is gone. */
  readonly #loads = new Set<Promise<unknown>>();
  #closed = false;
  /** One-entry memo: consecutive samples mostly share a shard. */
  #lastKey = -1;
  #last: Entry | undefined;
  hits = 0;
  misses = 0;
  /** Loads started (a shard read again after leaving memory counts again). */
  loadsStarted = 0;

  constructor(
    private readonly budget: number,
    private readonly load: (key: number) => Promise<LoadedUnit>,
    private readonly lingerLimit = 256 * 1024 * 1024,
    private readonly memoryLimit = Number.POSITIVE_INFINITY,
    private readonly maxDownloads = Number.POSITIVE_INFINITY,
  ) {}

  /** Shards waiting for budget to start downloading. */
  get queueDepth(): number {
    return this.#queue.length;
  }

  /** Shards downloading or held in memory for the window. */
  get active(): number {
    return this.#entries.size - this.#queue.length - this.#linger.size;
  }

  /** Loads that download (bytes > 0) started and not settled. */
  get downloads(): number {
    return this.#downloads;
  }

  /** Bytes of shards downloading or being read. */
  get inflightBytes(): number {
    return this.#inflightBytes;
  }

  /** Bytes of shards loading, loaded or lingering: what the memory limit bounds. */
  get residentBytes(): number {
    return this.#residentBytes;
  }

  /**
   * Takes a reference on shard `key` (about `bytes` bytes to download, `memory` bytes in memory),
   * queueing its load; `lingers: false` lets it go as soon as its last reference does.
   */
  ref(key: number, bytes: number, memory = bytes, lingers = true): void {
    if (this.#closed) throw closedError();
    const existing = this.#find(key);
    if (existing) {
      if (existing.refs++ === 0 && this.#linger.delete(key)) this.#lingerBytes -= sizeOf(existing);
      return;
    }
    let open!: () => void;
    let shut!: (reason: unknown) => void;
    const gate = new Promise<void>((resolve, reject) => {
      open = resolve;
      shut = reject;
    });
    const entry: Entry = {
      key,
      refs: 1,
      bytes,
      memory,
      resident: false,
      lingers,
      started: false,
      urgent: false,
      loaded: undefined,
      start: () => {
        if (entry.started) return;
        entry.started = true;
        this.loadsStarted++;
        this.#inflightBytes += entry.bytes;
        if (entry.bytes > 0) this.#downloads++;
        entry.resident = true;
        this.#residentBytes += entry.memory;
        open();
      },
      cancel: () => {
        if (!entry.started) shut(closedError());
      },
      promise: gate.then(() => this.load(key)),
    };
    const settle = () => {
      // A load cancelled before it started never counted against the budget.
      if (entry.started) {
        this.#inflightBytes -= entry.bytes;
        if (entry.bytes > 0) this.#downloads--;
      }
      if (this.#overdraft === entry) this.#overdraft = undefined;
      this.#pump();
    };
    const tracked = entry.promise.then(
      (s) => {
        entry.loaded = s;
        if (entry.resident) {
          this.#residentBytes += s.memoryBytes - entry.memory;
          entry.memory = s.memoryBytes;
        }
        if (s.hit) this.hits++;
        else this.misses++;
        settle();
      },
      () => {
        // A failed load is forgotten, so a later reference tries again; the reader sees the error.
        this.#letGo(entry);
        if (this.#entries.get(key) === entry && entry.refs === 0) this.#forget(key);
        settle();
      },
    );
    this.#loads.add(tracked);
    void tracked.then(() => this.#loads.delete(tracked));
    this.#entries.set(key, entry);
    this.#queue.push(entry);
    this.#pump();
  }

  /** The shard right now, when loaded (the hot path: no promise). */
  peek(key: number): LoadedUnit | undefined {
    return this.#find(key)?.loaded;
  }

  #find(key: number): Entry | undefined {
    if (key === this.#lastKey) return this.#last;
    const entry = this.#entries.get(key);
    if (entry !== undefined) {
      this.#lastKey = key;
      this.#last = entry;
    }
    return entry;
  }

  /** Stops counting an entry's memory (gone, failed, or closed). */
  #letGo(entry: Entry): void {
    if (!entry.resident) return;
    entry.resident = false;
    this.#residentBytes -= entry.memory;
  }

  #forget(key: number): void {
    const entry = this.#entries.get(key);
    if (entry) this.#letGo(entry);
    this.#entries.delete(key);
    if (key === this.#lastKey) {
      this.#lastKey = -1;
      this.#last = undefined;
    }
  }

  /** The shard, once its load has started and finished. */
  async get(key: number): Promise<LoadedUnit> {
    const entry = this.#entries.get(key);
    if (!entry) {
      throw new StreamsError(
        'STREAMS_INTERNAL',
        `[streams/multistream] shard ${key} read without a reference`,
      );
    }
    return entry.promise;
  }

  /**
   * Starts shard `key` now even beyond the budget: the consumer waits on it. One such shard runs
   * at a time (others wait at the front of the queue, in the order they were urged: the consumer
   * needs the first one first).
   */
  urge(key: number): void {
    const entry = this.#entries.get(key);
    if (!entry || entry.started) return;
    const i = this.#queue.indexOf(entry);
    if (i >= 0) this.#queue.splice(i, 1);
    let at = 0;
    while (at < this.#queue.length && this.#queue[at]!.urgent) at++;
    entry.urgent = true;
    this.#queue.splice(at, 0, entry);
    this.#pump();
  }

  /** Drops a reference; the last one lets the shard linger in memory, then go (and unpins it). */
  unref(key: number): void {
    const entry = this.#find(key);
    if (!entry || --entry.refs > 0) return;
    if (!entry.started) {
      this.#forget(key);
      const i = this.#queue.indexOf(entry);
      if (i >= 0) this.#queue.splice(i, 1);
      // Its gate would never open: settle it, or close() would wait for it forever.
      entry.cancel();
      this.#pump();
      return;
    }
    if (entry.loaded === undefined) {
      // Still loading: it lingers once loaded if nobody took it back.
      void entry.promise.then(
        () => {
          if (this.#entries.get(key) === entry && entry.refs === 0) this.#toLinger(entry);
        },
        () => {
          if (this.#entries.get(key) === entry && entry.refs === 0) this.#forget(key);
        },
      );
      return;
    }
    this.#toLinger(entry);
  }

  #toLinger(entry: Entry): void {
    if (!entry.lingers) {
      this.#forget(entry.key);
      void entry.loaded?.release().catch(() => undefined);
      this.#pump();
      return;
    }
    this.#linger.set(entry.key, entry);
    this.#lingerBytes += sizeOf(entry);
    this.#evict(this.lingerLimit);
    // It may be let go for a queued load now.
    if (this.#queue.length > 0) this.#pump();
  }

  /** Lets lingering shards go, oldest first, until their bytes are within `keep`. */
  #evict(keep: number): void {
    for (const [key, old] of this.#linger) {
      if (this.#lingerBytes <= keep) break;
      this.#linger.delete(key);
      this.#lingerBytes -= sizeOf(old);
      this.#forget(key);
      void old.loaded?.release().catch(() => undefined);
    }
  }

  /**
   * True when the entry's memory fits within the limit once lingering shards make room (they go
   * only as far as needed); always true while nothing is resident, so one shard can load.
   */
  #roomFor(entry: Entry): boolean {
    const over = this.#residentBytes + entry.memory - this.memoryLimit;
    if (over <= 0) return true;
    const held = this.#residentBytes - this.#lingerBytes;
    if (over > this.#lingerBytes && held > 0) return false;
    this.#evict(Math.max(0, this.#lingerBytes - over));
    return true;
  }

  // Always let one shard run, or nothing could make progress under a tiny budget; loads that
  // download nothing (local data, chunks of an index) never wait for it.
  #fits(entry: Entry): boolean {
    return (
      (entry.bytes === 0 ||
        this.#inflightBytes === 0 ||
        (this.#inflightBytes + entry.bytes <= this.budget &&
          this.#downloads < this.maxDownloads)) &&
      this.#roomFor(entry)
    );
  }

  #pump(): void {
    while (this.#queue.length > 0) {
      const entry = this.#queue[0]!;
      if (!this.#fits(entry)) {
        if (!entry.urgent || this.#overdraft !== undefined) return;
        this.#overdraft = entry;
        // Beyond the limit: nothing lingers meanwhile.
        if (this.memoryLimit !== Number.POSITIVE_INFINITY) this.#evict(0);
      }
      this.#queue.shift();
      entry.start();
    }
  }

  /**
   * Releases every shard and waits for loads in flight (abort them first) to settle; loads still
   * waiting for budget never start.
   */
  async close(): Promise<void> {
    this.#closed = true;
    const entries = [...this.#entries.values()];
    for (const e of this.#queue) e.cancel();
    this.#entries.clear();
    this.#lastKey = -1;
    this.#last = undefined;
    this.#linger.clear();
    this.#lingerBytes = 0;
    this.#residentBytes = 0;
    this.#queue.length = 0;
    await Promise.allSettled([...this.#loads]);
    await Promise.all(entries.map((e) => e.loaded?.release().catch(() => undefined)));
  }
}

function sizeOf(entry: Entry): number {
  return entry.loaded?.memoryBytes ?? 0;
}

function closedError(): StreamsError {
  return new StreamsError(
    'STREAMS_INVALID_ARGUMENT',
    '[streams/multistream] the dataset is closed',
    {
      fix: 'open a new StreamingDataset',
    },
  );
}
