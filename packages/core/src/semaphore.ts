import { signalReason, throwIfAborted } from './abort.js';
import { StreamsError } from './errors.js';

interface Waiter {
  grant: () => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

/**
 * A FIFO counting semaphore with abortable waits and a limit that can change at run time. A
 * fractional limit runs `Math.floor(limit)` holders (at least one), so a subclass can adapt it
 * smoothly (the fetch engine's per-host AIMD limits).
 */
export class Semaphore {
  private active = 0;
  private readonly waiters: Waiter[] = [];
  private current: number;

  constructor(limit: number) {
    this.current = checkLimit(limit);
  }

  /** The limit: at most `Math.floor(limit)` holders (at least one) at once. */
  get limit(): number {
    return this.current;
  }

  /** Holders now. */
  get running(): number {
    return this.active;
  }

  /** Callers waiting for a slot. */
  get pending(): number {
    return this.waiters.length;
  }

  /** Changes the limit; waiters start when slots free up. */
  setLimit(limit: number): void {
    this.current = checkLimit(limit);
    this.pump();
  }

  /** Waits for a slot; resolves to its release function (idempotent). An aborted wait never gets one. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signalReason(signal));
    // Fast path: a free slot and nobody waiting needs no waiter and no abort listener.
    const free = this.tryAcquire();
    if (free) return Promise.resolve(free);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        signal,
        grant: () => {
          signal?.removeEventListener('abort', waiter.onAbort);
          resolve(this.take());
        },
        onAbort: () => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(signalReason(signal!));
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.waiters.push(waiter);
      this.pump();
    });
  }

  /** Takes a slot only if one is free right now and nobody waits; else undefined. */
  tryAcquire(): (() => void) | undefined {
    if (this.waiters.length > 0 || !this.open() || this.active >= this.slots()) return undefined;
    return this.take();
  }

  /** Runs `fn` in a slot; a call aborted while waiting never starts. */
  async run<T>(
    fn: () => Promise<T>,
    options: { signal?: AbortSignal | undefined } = {},
  ): Promise<T> {
    throwIfAborted(options.signal);
    const release = await this.acquire(options.signal);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /** Sets the limit without validation (subclasses that keep their own bounds). */
  protected adjust(limit: number): void {
    this.current = limit;
    this.pump();
  }

  /** False while no slot may be handed out whatever the count (a subclass's pause). */
  protected open(): boolean {
    return true;
  }

  /** Grants slots to waiters while there are free ones. */
  protected pump(): void {
    if (!this.open()) return;
    while (this.waiters.length > 0 && this.active < this.slots()) this.waiters.shift()!.grant();
  }

  private slots(): number {
    return Math.max(1, Math.floor(this.current));
  }

  private take(): () => void {
    this.active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      this.pump();
    };
  }
}

function checkLimit(limit: number): number {
  if (!(limit >= 1))
    throw new StreamsError(
      'STREAMS_INVALID_ARGUMENT',
      `[streams/core] a concurrency limit must be >= 1, got ${limit}`,
      { fix: 'pass 1 or more' },
    );
  return limit;
}
