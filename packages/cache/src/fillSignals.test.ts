import { getEventListeners } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { openCache } from './diskCache.js';

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
