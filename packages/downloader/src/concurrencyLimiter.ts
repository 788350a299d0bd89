import { signalReason } from '@streams/core';

interface Waiter {
  grant: () => void;
  reject: (err: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

/**
 * A FIFO semaphore whose limit can change at run time, with an optional pause (for Retry-After).
 * The fetch engine keeps one for the whole process and one per host; the per-host ones adapt
 * their limit with AIMD: halve on throttling, grow by 1/limit on each success.
 */
export class ConcurrencyLimiter {
  private active = 0;
  private readonly waiters: Waiter[] = [];
  private pausedUntil = 0;
  private timer: NodeJS.Timeout | undefined;
  /** The current (possibly fractional) limit; `Math.floor` of it requests run at once. */
  limit: number;

  constructor(
    readonly max: number,
    readonly min = 1,
  ) {
    this.limit = max;
  }

  get inFlight(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiters.length;
  }

  /** Waits for a slot; resolves to its release function (call it exactly once). */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signalReason(signal));
    // Fast path: a free slot and nobody waiting needs no waiter and no abort listener (two
    // EventTarget calls saved per acquire, i.e. per small object and limit).
    const free = this.tryAcquire();
    if (free) return Promise.resolve(free);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        signal,
        reject,
        grant: () => {
          signal?.removeEventListener('abort', waiter.onAbort);
          this.active++;
          let released = false;
          resolve(() => {
            if (released) return;
            released = true;
            this.active--;
            this.pump();
          });
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
    if (this.waiters.length > 0 || this.pausedUntil > Date.now()) return undefined;
    if (this.active >= Math.max(1, Math.floor(this.limit))) return undefined;
    this.active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      this.pump();
    };
  }

  /** Multiplicative decrease, and no new requests until `pauseMs` has passed. */
  throttle(pauseMs = 0): void {
    this.limit = Math.max(this.min, this.limit / 2);
    if (pauseMs > 0) this.pausedUntil = Math.max(this.pausedUntil, Date.now() + pauseMs);
  }

  /** Additive increase: about +1 per `limit` successes, up to `max`. */
  succeed(): void {
    if (this.limit < this.max) {
      this.limit = Math.min(this.max, this.limit + 1 / this.limit);
      this.pump();
    }
  }

  private pump(): void {
    const wait = this.pausedUntil - Date.now();
    if (wait > 0) {
      if (!this.timer && this.waiters.length > 0) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.pump();
        }, wait);
      }
      return;
    }
    while (this.waiters.length > 0 && this.active < Math.max(1, Math.floor(this.limit)))
      this.waiters.shift()!.grant();
  }
}
