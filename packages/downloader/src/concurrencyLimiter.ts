import { Semaphore } from '@streams/core';

/**
 * The fetch engine's semaphore: one for the whole process and one per host. The per-host ones
 * adapt their limit with AIMD (halve on throttling, grow by 1/limit on each success) and pause
 * for a store's Retry-After.
 */
export class ConcurrencyLimiter extends Semaphore {
  private pausedUntil = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly max: number,
    readonly min = 1,
  ) {
    super(max);
  }

  get inFlight(): number {
    return this.running;
  }

  get queued(): number {
    return this.pending;
  }

  /** Multiplicative decrease, and no new requests until `pauseMs` has passed. */
  throttle(pauseMs = 0): void {
    if (pauseMs > 0) this.pausedUntil = Math.max(this.pausedUntil, Date.now() + pauseMs);
    this.adjust(Math.max(this.min, this.limit / 2));
  }

  /** Additive increase: about +1 per `limit` successes, up to `max`. */
  succeed(): void {
    if (this.limit < this.max) this.adjust(Math.min(this.max, this.limit + 1 / this.limit));
  }

  protected override open(): boolean {
    const wait = this.pausedUntil - Date.now();
    if (wait <= 0) return true;
    if (!this.timer && this.pending > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.pump();
      }, wait);
    }
    return false;
  }
}
