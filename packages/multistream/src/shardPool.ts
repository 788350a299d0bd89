import { StreamsError } from '@streams/core';

/** A shard's bytes in memory, and how to let go of the disk entry that holds them. */
export interface LoadedShard {
  bytes: Uint8Array;
  /** True when the shard was already on disk (cache hit or a local dataset). */
  hit: boolean;
  /** Unpins the cache entry (no-op for local datasets). */
  release(): Promise<void>;
}

interface Entry {
  refs: number;
  /** Bytes counted against the budget while the entry is pinned. */
  bytes: number;
  started: boolean;
  /** The consumer waits on it: may start beyond the budget (one at a time). */
  urgent: boolean;
  start: () => void;
  promise: Promise<LoadedShard>;
}

/**
 * Reference-counted shards for the prefetch window. Each planned sample holds a reference on its
 * shard from the moment it enters the window until it is decoded; the shard's bytes (and its
 * pin, if the loader keeps one) go as soon as the last reference does. Loads start in plan order
 * while the bytes downloading stay within `budget`; the shard the consumer waits on starts at
 * once ({@link urge}), so a window whose shards are referenced far ahead can never deadlock.
 */
export class ShardPool {
  readonly #entries = new Map<string, Entry>();
  readonly #queue: string[] = [];
  #inflightBytes = 0;
  /** The urgent entry running beyond the budget, if any. */
  #overdraft: Entry | undefined;
  /** Every load started and not settled, including those whose entry is gone. */
  readonly #loads = new Set<Promise<unknown>>();
  #closed = false;
  hits = 0;
  misses = 0;

  constructor(
    private readonly budget: number,
    private readonly load: (key: string) => Promise<LoadedShard>,
  ) {}

  /** Shards waiting for budget to start downloading. */
  get queueDepth(): number {
    return this.#queue.length;
  }

  /** Shards downloading or in memory. */
  get active(): number {
    return this.#entries.size - this.#queue.length;
  }

  /** Bytes of shards downloading or being read. */
  get inflightBytes(): number {
    return this.#inflightBytes;
  }

  /** Takes a reference on shard `key` (of about `bytes` bytes), queueing its load. */
  ref(key: string, bytes: number): void {
    if (this.#closed) throw closedError();
    const existing = this.#entries.get(key);
    if (existing) {
      existing.refs++;
      return;
    }
    let start!: () => void;
    const gate = new Promise<void>((resolve) => {
      start = resolve;
    });
    const entry: Entry = {
      refs: 1,
      bytes,
      started: false,
      urgent: false,
      start: () => {
        if (entry.started) return;
        entry.started = true;
        this.#inflightBytes += entry.bytes;
        start();
      },
      promise: gate.then(() => this.load(key)),
    };
    // Bytes count against the budget only while they download and are read: afterwards the shard
    // sits in memory and its cache entry is unpinned (evictable).
    const settle = () => {
      this.#inflightBytes -= entry.bytes;
      if (this.#overdraft === entry) this.#overdraft = undefined;
      this.#pump();
    };
    const tracked = entry.promise.then(settle, settle);
    this.#loads.add(tracked);
    void tracked.then(() => this.#loads.delete(tracked));
    entry.promise.then(
      (s) => (s.hit ? this.hits++ : this.misses++),
      () => undefined,
    );
    this.#entries.set(key, entry);
    this.#queue.push(key);
    this.#pump();
  }

  /** The shard's bytes, once its load has started and finished. */
  get(key: string): Promise<LoadedShard> {
    const entry = this.#entries.get(key);
    if (!entry) {
      return Promise.reject(
        new StreamsError(
          'STREAMS_INTERNAL',
          `[streams/multistream] shard ${key} read without a reference`,
        ),
      );
    }
    return entry.promise;
  }

  /**
   * Starts shard `key` now even beyond the budget: the consumer waits on it. One such shard runs
   * at a time (any other waits at the front of the queue), so the loads never exceed the budget
   * by more than one shard.
   */
  urge(key: string): void {
    const entry = this.#entries.get(key);
    if (!entry || entry.started) return;
    entry.urgent = true;
    const i = this.#queue.indexOf(key);
    if (i >= 0) this.#queue.splice(i, 1);
    this.#queue.unshift(key);
    this.#pump();
  }

  /** Drops a reference; the last one unpins the shard and frees its bytes. */
  async unref(key: string): Promise<void> {
    const entry = this.#entries.get(key);
    if (!entry) return;
    if (--entry.refs > 0) return;
    this.#entries.delete(key);
    const i = this.#queue.indexOf(key);
    if (i >= 0) this.#queue.splice(i, 1);
    if (entry.started) {
      try {
        const s = await entry.promise;
        await s.release();
      } catch {
        // A failed load has nothing to release; its error reached the reader.
      }
    }
    this.#pump();
  }

  // Always let one shard run, or nothing could make progress under a tiny budget.
  #fits(entry: Entry): boolean {
    return this.#inflightBytes === 0 || this.#inflightBytes + entry.bytes <= this.budget;
  }

  #pump(): void {
    while (this.#queue.length > 0) {
      const key = this.#queue[0]!;
      const entry = this.#entries.get(key)!;
      if (!this.#fits(entry)) {
        if (!entry.urgent || this.#overdraft !== undefined) return;
        this.#overdraft = entry;
      }
      this.#queue.shift();
      entry.start();
    }
  }

  /** Releases every shard and waits for loads in flight (abort them first) to settle. */
  async close(): Promise<void> {
    this.#closed = true;
    const entries = [...this.#entries.values()];
    this.#entries.clear();
    this.#queue.length = 0;
    await Promise.allSettled([...this.#loads]);
    await Promise.all(
      entries.map(async (e) => {
        if (!e.started) return;
        try {
          await (await e.promise).release();
        } catch {
          // nothing to release
        }
      }),
    );
  }
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
