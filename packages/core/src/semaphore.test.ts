import { describe, expect, it } from 'vitest';
import { isAbortError } from './abort.js';
import { Semaphore } from './semaphore.js';

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('Semaphore', () => {
  it('runs at most `limit` tasks at once and drains in order', async () => {
    const sem = new Semaphore(2);
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    await Promise.all(
      [0, 1, 2, 3, 4].map((i) =>
        sem.run(async () => {
          running++;
          peak = Math.max(peak, running);
          await tick();
          order.push(i);
          running--;
        }),
      ),
    );
    expect(peak).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4]);
    expect(sem.running).toBe(0);
  });

  it('a task aborted while waiting never starts; raising the limit starts waiters', async () => {
    const sem = new Semaphore(1);
    let release!: () => void;
    const first = sem.run(
      () =>
        new Promise<void>((r) => {
          release = r;
        }),
    );
    const controller = new AbortController();
    let started = false;
    const waiting = sem.run(
      async () => {
        started = true;
      },
      { signal: controller.signal },
    );
    expect(sem.pending).toBe(1);
    controller.abort();
    await expect(waiting).rejects.toSatisfy(isAbortError);
    expect(sem.pending).toBe(0);
    const third = sem.run(async () => 'ran');
    sem.setLimit(2);
    expect(await third).toBe('ran');
    release();
    await first;
    expect(started).toBe(false);
    expect(() => new Semaphore(0)).toThrow(/>= 1/);
    expect(() => sem.setLimit(Number.NaN)).toThrow(/>= 1/);
  });

  it('tryAcquire takes a free slot only when nobody waits; release is idempotent', async () => {
    const sem = new Semaphore(1.7); // a fractional limit runs floor(limit) holders
    const a = sem.tryAcquire();
    expect(a).toBeDefined();
    expect(sem.tryAcquire()).toBeUndefined();
    const waiter = sem.acquire();
    a!();
    a!();
    const b = await waiter;
    expect(sem.running).toBe(1);
    b();
    expect(sem.running).toBe(0);
  });
});
