import { setMaxListeners } from 'node:events';
import { abortError, type EventHub, StreamsError, signalReason } from '@streams/core';
import type { DownloadOptions, DownloadResult, EngineCounters } from './downloadOptions.js';

/** What a queue needs from its engine (a `FetchEngine`). */
export interface PrefetchEngine {
  readonly counters: Readonly<EngineCounters>;
  readonly events: EventHub;
  download(url: string, dest: string, options?: DownloadOptions): Promise<DownloadResult>;
}

/** Options of {@link PrefetchQueue}. */
export interface PrefetchOptions {
  /** Downloads kept in flight (default 8). The engine's global and per-host limits still apply. */
  depth?: number;
  /** Cancels every queued and running download. */
  signal?: AbortSignal;
  /** Period of `download.progress` events in ms (default 1000); one more is sent when the queue drains. */
  progressIntervalMs?: number;
}

/** Progress of a queue, as sent in `download.progress` events. */
export interface PrefetchStats {
  queued: number;
  inFlight: number;
  done: number;
  failed: number;
  /** Bytes of the downloads that finished. */
  bytes: number;
  /** Bytes received by the engine since the queue started, live (retried bytes included). */
  received: number;
  /** Receive rate since the previous progress event. */
  bytesPerSec: number;
  /** Retries and throttles of the engine since the queue started (engine-wide, like `received`). */
  retries: number;
  throttles: number;
}

interface Item {
  url: string;
  dest: string;
  options: DownloadOptions;
  promise: Promise<DownloadResult>;
  resolve: (r: DownloadResult) => void;
  reject: (e: unknown) => void;
}

/**
 * Downloads in plan order with a bounded look-ahead: the caller enqueues URLs in the order it
 * will need them, the queue keeps `depth` downloads in flight, and iterating the queue yields
 * results in enqueue order. Emits `download.progress` events (bytes/s, in flight, retries,
 * throttles) through the engine's event hub.
 */
export class PrefetchQueue implements AsyncIterable<DownloadResult>, AsyncDisposable {
  // Items from the oldest not yet yielded by iteration; `next` indexes the next to start and
  // `head` the next to yield. Yielded items are dropped, so a long plan does not pile up.
  private items: Item[] = [];
  private next = 0;
  private head = 0;
  private active = 0;
  private done = 0;
  private failed = 0;
  private bytes = 0;
  private closed = false;
  private readonly ctl = new AbortController();
  private wake: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly depth: number;
  private readonly start: { retries: number; throttles: number; received: number };
  private last = { time: performance.now(), received: 0 };
  private readonly intervalMs: number;

  constructor(
    private readonly engine: PrefetchEngine,
    options: PrefetchOptions = {},
  ) {
    this.depth = options.depth ?? 8;
    if (!Number.isInteger(this.depth) || this.depth < 1)
      throw new StreamsError(
        'STREAMS_INVALID_ARGUMENT',
        `[streams/downloader] prefetch depth must be a positive integer, got ${this.depth}`,
        {
          fix: 'pass depth: 1 or more',
        },
      );
    this.intervalMs = options.progressIntervalMs ?? 1000;
    // Every running download listens on the queue's signal: `depth` listeners is expected.
    setMaxListeners(0, this.ctl.signal);
    this.start = {
      retries: engine.counters.retries,
      throttles: engine.counters.throttles,
      received: engine.counters.bytes,
    };
    if (options.signal) {
      if (options.signal.aborted) this.ctl.abort(signalReason(options.signal));
      else
        options.signal.addEventListener('abort', () => this.cancel(signalReason(options.signal!)), {
          once: true,
        });
    }
  }

  /** Adds a download at the end of the plan; resolves when it has landed. */
  enqueue(url: string, dest: string, options: DownloadOptions = {}): Promise<DownloadResult> {
    if (this.closed)
      return Promise.reject(
        new StreamsError(
          'STREAMS_INVALID_ARGUMENT',
          '[streams/downloader] enqueue() after close()',
          { url, fix: 'enqueue everything before close()' },
        ),
      );
    let resolve!: (r: DownloadResult) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<DownloadResult>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // Failures are reported to whoever awaits the item or iterates; never as unhandled.
    promise.catch(() => {});
    this.items.push({ url, dest, options, promise, resolve, reject });
    this.pump();
    this.notify();
    return promise;
  }

  /** No more items will be enqueued: iteration ends after the last one. */
  close(): void {
    this.closed = true;
    this.notify();
  }

  /** Aborts everything queued or running. */
  cancel(reason: unknown = abortError('prefetch queue cancelled')): void {
    this.closed = true;
    if (!this.ctl.signal.aborted) this.ctl.abort(reason);
    for (let i = this.next; i < this.items.length; i++) this.items[i]!.reject(reason);
    this.next = this.items.length;
    this.notify();
    this.stopTimer();
  }

  /** Current progress. */
  stats(): PrefetchStats {
    const now = performance.now();
    const dt = (now - this.last.time) / 1000;
    const received = this.engine.counters.bytes - this.start.received;
    const bytesPerSec = dt > 0 ? Math.max(0, received - this.last.received) / dt : 0;
    return {
      queued: this.items.length - this.next,
      inFlight: this.active,
      done: this.done,
      failed: this.failed,
      bytes: this.bytes,
      received,
      bytesPerSec,
      retries: this.engine.counters.retries - this.start.retries,
      throttles: this.engine.counters.throttles - this.start.throttles,
    };
  }

  /** Waits until every item not yet yielded has settled; rejects with the first failure. */
  async drain(): Promise<DownloadResult[]> {
    const results: DownloadResult[] = [];
    for (const item of this.items.slice(this.head)) results.push(await item.promise);
    return results;
  }

  /** Yields results in enqueue order (one consumer); a failure rejects at its position. */
  async *[Symbol.asyncIterator](): AsyncIterator<DownloadResult> {
    while (true) {
      if (this.head < this.items.length) {
        const result = await this.items[this.head]!.promise;
        this.head++;
        this.compact();
        yield result;
        continue;
      }
      if (this.closed) return;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.cancel();
    await Promise.allSettled(this.items.map((i) => i.promise));
  }

  private compact(): void {
    if (this.head < 1024 || this.head * 2 < this.items.length) return;
    this.items = this.items.slice(this.head);
    this.next -= this.head;
    this.head = 0;
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private pump(): void {
    while (this.active < this.depth && this.next < this.items.length && !this.ctl.signal.aborted) {
      const item = this.items[this.next++]!;
      this.active++;
      this.startTimer();
      const signal = item.options.signal
        ? AbortSignal.any([item.options.signal, this.ctl.signal])
        : this.ctl.signal;
      this.engine.download(item.url, item.dest, { ...item.options, signal }).then(
        (r) => {
          this.active--;
          this.done++;
          this.bytes += r.bytes;
          item.resolve(r);
          this.settled();
        },
        (err: unknown) => {
          this.active--;
          this.failed++;
          item.reject(err);
          this.settled();
        },
      );
    }
  }

  private settled(): void {
    this.pump();
    if (this.active === 0 && this.next >= this.items.length) {
      this.progress();
      this.stopTimer();
    }
  }

  private progress(): void {
    const s = this.stats();
    this.last = { time: performance.now(), received: s.received };
    if (!this.engine.events.active) return;
    this.engine.events.emit({
      kind: 'progress',
      name: 'download.progress',
      bytes: s.bytes,
      counters: { ...s },
    });
  }

  private startTimer(): void {
    if (this.timer || !Number.isFinite(this.intervalMs) || this.intervalMs <= 0) return;
    this.timer = setInterval(() => this.progress(), this.intervalMs);
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
