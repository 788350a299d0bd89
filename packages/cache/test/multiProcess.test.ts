import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rng } from '@streams/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CacheAudit, openCache } from '../src/index.js';
import type { HammerConfig } from './fixtures/shared.js';
import { spawnFixture } from './spawnTs.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'streams-cache-mp-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Replays the event log: a key is filled only when absent, committed once, evicted only when cached
 * and never while a reader of any process holds it.
 */
function checkLog(lines: string[]): {
  fills: number;
  commits: number;
  evictions: number;
  pins: number;
} {
  const state = new Map<string, 'filling' | 'cached'>();
  const pinned = new Map<string, number>(); // key -> readers holding it
  const counts = { fills: 0, commits: 0, evictions: 0, pins: 0 };
  lines.forEach((line, n) => {
    const [what, key] = line.split(' ') as [string, string];
    if (what === 'pin' || what === 'unpin') {
      const held = (pinned.get(key) ?? 0) + (what === 'pin' ? 1 : -1);
      if (held === 0) pinned.delete(key);
      else pinned.set(key, held);
      if (what === 'pin') counts.pins++;
      return;
    }
    const now = state.get(key);
    const fail = (why: string) => {
      throw new Error(`log line ${n + 1} "${line}": ${why} (key was ${now ?? 'absent'})`);
    };
    if (what === 'fill') {
      if (now !== undefined) fail('filled while cached or being filled');
      state.set(key, 'filling');
      counts.fills++;
    } else if (what === 'commit') {
      if (now !== 'filling') fail('committed without a fill');
      state.set(key, 'cached');
      counts.commits++;
    } else if (what === 'fail') {
      if (now !== 'filling') fail('failed without a fill');
      state.delete(key);
    } else if (what === 'evict') {
      if (now !== 'cached') fail('evicted while not cached');
      if (pinned.has(key)) fail('evicted while a reader pinned it');
      state.delete(key);
      counts.evictions++;
    } else fail('unknown line');
  });
  return counts;
}

describe('four processes sharing one cache', () => {
  it('never corrupts a read, fills each key at most once while cached, and holds the budget', async () => {
    const seed = 20261121;
    const r = rng(seed, 'sizes');
    // Two small local-only entries (no remote copy): never evicted, always counted. Each process
    // has at most one entry pinned or being filled, so 4 x the largest entry plus the local ones
    // fit in the budget: a STREAMS_CACHE_TOO_SMALL here would be a bug.
    const keys = Array.from({ length: 32 }, (_, i) => {
      const local = i === 5 || i === 20;
      return {
        key: `shards/shard.${String(i).padStart(5, '0')}.mds`,
        size: local ? 4096 : 8192 + r.int(20480),
        local,
      };
    });
    const workingSet = keys.reduce((a, k) => a + k.size, 0);
    const budget = Math.floor(workingSet / 4);
    expect(4 * Math.max(...keys.map((k) => k.size)) + 2 * 4096).toBeLessThanOrEqual(budget);
    const log = join(dir, 'events.log');
    const cacheDir = join(dir, 'cache');
    // The observer: a fifth user of the cache that audits records against the disk, under the lock.
    const observer = await openCache({ dir: cacheDir, limit: budget, fsync: false });
    const children = [0, 1, 2, 3].map((index) => {
      const config: HammerConfig = {
        dir: cacheDir,
        log,
        budget,
        seed,
        index,
        iterations: 250,
        failRate: 0.05,
        abortRate: 0.05,
        keys,
      };
      return spawnFixture('hammer.ts', [JSON.stringify(config)]);
    });
    const audits: CacheAudit[] = [];
    let running = true;
    // allSettled: a failing child must not leave the others running past the test.
    const all = Promise.allSettled(children.map((c) => c.output)).finally(() => {
      running = false;
    });
    try {
      while (running) {
        audits.push(await observer.audit());
        await new Promise((res) => setTimeout(res, 10));
      }
    } finally {
      for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    }
    const settled = await all;
    for (const s of settled) if (s.status === 'rejected') throw s.reason;
    const results = settled.map((s) => JSON.parse((s as PromiseFulfilledResult<string>).value));
    audits.push(await observer.audit());
    await observer.close();

    for (const res of results) {
      expect(res.ops).toBe(250);
      expect(res.mismatches).toBe(0);
      expect(res.overBudget).toBe(0);
    }
    const hits = results.reduce((a, x) => a + x.hits, 0);
    const misses = results.reduce((a, x) => a + x.misses, 0);
    expect(hits).toBeGreaterThan(0);
    expect(misses).toBeGreaterThan(0);
    expect(audits.length).toBeGreaterThan(3);
    for (const a of audits) {
      expect(a.problems).toEqual([]);
      expect(a.recordedBytes + a.reservedBytes).toBeLessThanOrEqual(budget);
      expect(a.dataBytes + a.tmpBytes).toBeLessThanOrEqual(budget);
    }
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    const counts = checkLog(lines);
    for (const k of keys.filter((x) => x.local)) {
      expect(lines.filter((l) => l.startsWith(`evict ${k.key} `))).toEqual([]);
    }
    expect(results.reduce((a, x) => a + x.aborts, 0)).toBeGreaterThan(0);
    // Every claimed fill committed or failed; an aborted caller's fill still commits (unpinned).
    expect(counts.commits).toBeGreaterThanOrEqual(
      misses - results.reduce((a, x) => a + x.aborts, 0),
    );
    expect(counts.evictions).toBeGreaterThan(0);
    expect(counts.pins).toBe(hits + misses);
    const final = audits.at(-1)!;
    expect(final.tmpBytes).toBe(0);
    expect(final.dataBytes).toBe(final.recordedBytes);
  }, 120_000);
});
