import { isAbortError } from '@streams/core';
import { describe, expect, it } from 'vitest';
import { ConcurrencyLimiter } from './concurrencyLimiter.js';

describe('ConcurrencyLimiter', () => {
  it('never runs more than its limit and serves waiters in order', async () => {
    const lim = new ConcurrencyLimiter(3);
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const release = await lim.acquire();
        order.push(i);
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setImmediate(r));
        running--;
        release();
      }),
    );
    expect(peak).toBe(3);
    expect(order).toEqual([...order].sort((a, b) => a - b));
  });

  it('halves on throttle (AIMD) and grows back by about one per window', () => {
    const lim = new ConcurrencyLimiter(16);
    lim.throttle();
    expect(lim.limit).toBe(8);
    lim.throttle();
    lim.throttle();
    lim.throttle();
    lim.throttle();
    expect(lim.limit).toBe(1);
    for (let i = 0; i < 3; i++) lim.succeed();
    expect(lim.limit).toBeGreaterThan(2);
    for (let i = 0; i < 1000; i++) lim.succeed();
    expect(lim.limit).toBe(16);
  });

  it('a waiter whose signal aborts leaves the queue with an AbortError', async () => {
    const lim = new ConcurrencyLimiter(1);
    const release = await lim.acquire();
    const ac = new AbortController();
    const waiting = lim.acquire(ac.signal);
    expect(lim.queued).toBe(1);
    ac.abort();
    await expect(waiting).rejects.toSatisfy(isAbortError);
    expect(lim.queued).toBe(0);
    release();
    const again = await lim.acquire();
    expect(lim.inFlight).toBe(1);
    again();
  });
});
