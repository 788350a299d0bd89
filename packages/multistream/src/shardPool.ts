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
  start: () => void;
  promise: Promise<LoadedShard>;
  demanded: boolean;
}

/**
 * Reference-counted shards for the prefetch window. Each planned sample holds a reference on its
 * shard from the moment it enters the window until it is decoded; the shard's pin (and its bytes)
 * go as soon as the last reference does. New downloads start in plan order while the pinned bytes
 * stay within the budget; a shard the consumer is waiting for starts regardless, so the window
 * can never deadlock on its own pins.
 */
export class ShardPool {
  readonly #entries = new Map<string, Entry>();
  readonly #queue: string[] = [];
  #pinnedBytes = 0;
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

  get pinnedBytes(): number {
    return this.#pinnedBytes;
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
      start: () => {
        if (entry.started) return;
        entry.started = true;
        this.#pinnedBytes += entry.bytes;
        start();
      },
      promise: gate.then(() => this.load(key)),
      demanded: false,
    };
    entry.promise.then(
      (s) => (s.hit ? this.hits++ : this.misses++),
      () => undefined,
    );
    this.#entries.set(key, entry);
    this.#queue.push(key);
    this.#pump();
  }

  /** The shard's bytes; starts its load now if it is still queued (the consumer waits on it). */
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
    if (!entry.started) {
      entry.demanded = true;
      const i = this.#queue.indexOf(key);
      if (i >= 0) this.#queue.splice(i, 1);
      entry.start();
    }
    return entry.promise;
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
      this.#pinnedBytes -= entry.bytes;
      try {
        const s = await entry.promise;
        await s.release();
      } catch {
        // A failed load has nothing to release; its error reached the reader.
      }
    }
    this.#pump();
  }

  #pump(): void {
    while (this.#queue.length > 0) {
      const key = this.#queue[0]!;
      const entry = this.#entries.get(key)!;
      // Always let one shard run, or nothing could ever make progress under a tiny budget.
      if (this.#pinnedBytes > 0 && this.#pinnedBytes + entry.bytes > this.budget) return;
      this.#queue.shift();
      entry.start();
    }
  }

  /** Releases every shard (after an abort or at dispose). */
  async close(): Promise<void> {
    this.#closed = true;
    const entries = [...this.#entries.values()];
    this.#entries.clear();
    this.#queue.length = 0;
    this.#pinnedBytes = 0;
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
