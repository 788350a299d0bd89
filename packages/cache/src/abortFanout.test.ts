import { getEventListeners } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { abortFanout } from './abortFanout.js';
import { openCache } from './diskCache.js';

it('many waiters on one signal share one abort listener; each is called once, and none is left after', async () => {
  const ac = new AbortController();
  const calls: number[] = [];
  const removes = Array.from({ length: 100 }, (_, i) =>
    abortFanout.add(ac.signal, () => calls.push(i)),
  );
  expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
  // Removed waiters are not called; the rest are, once each.
  for (const remove of removes.slice(0, 50)) remove();
  ac.abort(new Error('stop'));
  expect(calls).toEqual(Array.from({ length: 50 }, (_, i) => 50 + i));
  for (const remove of removes) remove(); // after the abort: harmless
  expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);

  // The last waiter gone, the signal has no listener of ours left.
  const other = new AbortController();
  const remove = abortFanout.add(other.signal, () => undefined);
  remove();
  expect(getEventListeners(other.signal, 'abort')).toHaveLength(0);
  const late = abortFanout.race(new Promise<number>(() => undefined), other.signal);
  expect(getEventListeners(other.signal, 'abort')).toHaveLength(1);
  other.abort(new Error('late'));
  await expect(late).rejects.toThrow('late');
  await expect(abortFanout.race(Promise.resolve(7), other.signal)).rejects.toThrow('late');
  expect(getEventListeners(other.signal, 'abort')).toHaveLength(0);
});

it('fills in flight under one caller signal hold one listener on it; aborting it ends them all, leaving the cache consistent', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'streams-fanout-'));
  try {
    await using cache = await openCache({ dir, limit: '10mb' });
    const ac = new AbortController();
    let started = 0;
    const fills = Array.from({ length: 64 }, (_, i) =>
      cache.acquire(
        `k/${i}`,
        ({ signal }) =>
          new Promise<void>((_resolve, reject) => {
            started++;
            signal.addEventListener('abort', () => reject(signal.reason), { once: true });
          }),
        { signal: ac.signal },
      ),
    );
    for (const f of fills) f.catch(() => undefined);
    while (started < 64) await new Promise((r) => setTimeout(r, 1));
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
    ac.abort();
    const settled = await Promise.allSettled(fills);
    expect(settled.every((s) => s.status === 'rejected' && s.reason.name === 'AbortError')).toBe(
      true,
    );
    // The fills themselves end (they listen on their own signal, aborted through the fan-out).
    for (let i = 0; i < 200 && (await cache.audit()).reservedBytes > 0; i++)
      await new Promise((r) => setTimeout(r, 5));
    const audit = await cache.audit();
    expect(audit.problems).toEqual([]);
    expect(audit.entries).toBe(0);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
