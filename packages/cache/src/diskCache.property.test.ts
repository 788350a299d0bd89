import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isStreamsError } from '@streams/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CacheHandle } from './cacheOptions.js';
import { type DiskCache, openCache } from './diskCache.js';

const BUDGET = 100;

type Command =
  | { t: 'acquire'; key: number; size: number; fail: boolean; local: boolean; announce: boolean }
  | { t: 'release'; index: number }
  | { t: 'reopen' };

const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      t: fc.constant('acquire' as const),
      key: fc.integer({ min: 0, max: 7 }),
      size: fc.integer({ min: 0, max: 45 }),
      fail: fc.boolean(),
      local: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
      announce: fc.boolean(),
    }),
  },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('release' as const), index: fc.nat(20) }) },
  { weight: 1, arbitrary: fc.constant({ t: 'reopen' as const }) },
);

function bytesOf(key: number, size: number): Buffer {
  return Buffer.alloc(size, (key * 31 + size * 7 + 1) % 256);
}

/** The reference model: entries in LRU order (Map order), pins per key. */
class Model {
  entries = new Map<string, { size: number; local: boolean }>();
  pins = new Map<string, number>();
  get usage(): number {
    let n = 0;
    for (const e of this.entries.values()) n += e.size;
    return n;
  }
  touch(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    this.entries.set(key, e);
  }
  /** LRU eviction plan for `need` more bytes, or undefined when it cannot fit. */
  plan(need: number): string[] | undefined {
    let excess = this.usage + need - BUDGET;
    const out: string[] = [];
    if (excess <= 0) return out;
    for (const [key, e] of this.entries) {
      if (e.local || this.pins.has(key)) continue;
      out.push(key);
      excess -= e.size;
      if (excess <= 0) return out;
    }
    return undefined;
  }
}

describe('DiskCache (property-based)', () => {
  it('keeps usage within budget, never evicts pinned or local entries, and evicts in LRU order', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 40 }), async (commands) => {
        const dir = mkdtempSync(join(tmpdir(), 'streams-cache-prop-'));
        const evicted: string[] = [];
        const open = () =>
          openCache({
            dir,
            limit: BUDGET,
            fsync: false,
            onEvent: (e) => {
              if (e.name === 'cache.evict') evicted.push(String(e.attrs?.key));
            },
          });
        let cache: DiskCache = await open();
        const model = new Model();
        let handles: Array<{ key: string; handle: CacheHandle }> = [];
        try {
          for (const cmd of commands) {
            evicted.length = 0;
            if (cmd.t === 'acquire') {
              const key = `k/${cmd.key}.bin`;
              const cached = model.entries.get(key);
              let expectedEvictions: string[] = [];
              let expectTooSmall = false;
              if (!cached) {
                const plan = model.plan(cmd.size);
                if (plan === undefined) expectTooSmall = !cmd.fail || cmd.announce;
                else if (cmd.announce || !cmd.fail) expectedEvictions = plan;
              }
              let filled = false;
              try {
                const handle = await cache.acquire(
                  key,
                  async ({ tmpPath }) => {
                    filled = true;
                    if (cmd.fail) throw new Error('injected fill failure');
                    await writeFile(tmpPath, bytesOf(cmd.key, cmd.size));
                  },
                  { localOnly: cmd.local, expectedSize: cmd.announce ? cmd.size : undefined },
                );
                expect(expectTooSmall).toBe(false);
                expect(handle.hit).toBe(cached !== undefined);
                expect(filled).toBe(cached === undefined);
                const size = cached ? cached.size : cmd.size;
                expect(handle.size).toBe(size);
                expect(readFileSync(handle.path).equals(bytesOf(cmd.key, size))).toBe(true);
                if (!cached) {
                  for (const k of expectedEvictions) model.entries.delete(k);
                  model.entries.set(key, { size, local: cmd.local });
                }
                model.touch(key);
                model.pins.set(key, (model.pins.get(key) ?? 0) + 1);
                handles.push({ key, handle });
              } catch (err) {
                if (expectTooSmall) {
                  expect(isStreamsError(err, 'STREAMS_CACHE_TOO_SMALL')).toBe(true);
                } else {
                  expect(cmd.fail).toBe(true);
                  expect((err as Error).message).toBe('injected fill failure');
                  // Announced fills make room before they run, even when they then fail.
                  for (const k of expectedEvictions) model.entries.delete(k);
                }
              }
              expect(evicted.sort()).toEqual(
                expectTooSmall || (cmd.fail && !cmd.announce) ? [] : expectedEvictions.sort(),
              );
            } else if (cmd.t === 'release') {
              if (handles.length === 0) continue;
              const [{ key, handle }] = handles.splice(cmd.index % handles.length, 1) as [
                { key: string; handle: CacheHandle },
              ];
              await handle.release();
              const n = (model.pins.get(key) ?? 0) - 1;
              if (n > 0) model.pins.set(key, n);
              else model.pins.delete(key);
              model.touch(key);
            } else {
              await cache.close();
              handles = [];
              model.pins.clear();
              cache = await open();
            }
            const stats = cache.stats();
            expect(stats.bytesInUse + stats.reservedBytes).toBeLessThanOrEqual(BUDGET);
            expect(stats.bytesInUse).toBe(model.usage);
            expect(stats.reservedBytes).toBe(0);
            // Every pinned entry is still there with its bytes.
            for (const { key, handle } of handles) {
              const m = model.entries.get(key)!;
              expect(readFileSync(handle.path).length).toBe(m.size);
            }
            const audit = await cache.audit();
            expect(audit.problems).toEqual([]);
            expect(audit.dataBytes).toBe(model.usage);
            expect(audit.tmpBytes).toBe(0);
            const listed = await cache.list();
            expect(listed.map((e) => e.key)).toEqual([...model.entries.keys()]);
            for (const e of listed) expect(e.ownPins).toBe(model.pins.get(e.key) ?? 0);
          }
        } finally {
          await cache.close();
          rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 60 },
    );
  }, 60_000);
});

describe('DiskCache (property-based, concurrent acquires)', () => {
  it('fills each key once while cached and holds the budget under any interleaving', async () => {
    const task = fc.record({
      key: fc.integer({ min: 0, max: 5 }),
      fail: fc.integer({ min: 0, max: 5 }).map((n) => n === 0),
      announce: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.array(task, { minLength: 1, maxLength: 12 }),
        async (s, tasks) => {
          const dir = mkdtempSync(join(tmpdir(), 'streams-cache-sched-'));
          const log: string[] = [];
          const sizeOf = (k: number) => 10 + k * 3; // 10..25, budget 60: at most ~4 entries
          const budget = 60;
          const cache = await openCache({
            dir,
            limit: budget,
            fsync: false,
            onEvent: (e) => {
              const key = String(e.attrs?.key);
              if (e.name === 'cache.evict') log.push(`evict ${key}`);
              else if (e.name === 'cache.fill') log.push(`commit ${key}`);
              else if (e.name === 'cache.fill_failed') log.push(`fail ${key}`);
            },
          });
          try {
            const all = Promise.all(
              tasks.map(async (t) => {
                const key = `k${t.key}`;
                const size = sizeOf(t.key);
                try {
                  const h = await cache.acquire(
                    key,
                    async ({ tmpPath }) => {
                      log.push(`fill ${key}`);
                      await s.schedule(Promise.resolve(), `fill ${key}`);
                      if (t.fail) throw new Error('injected failure');
                      await writeFile(tmpPath, bytesOf(t.key, size));
                    },
                    { expectedSize: t.announce ? size : undefined },
                  );
                  expect(readFileSync(h.path).equals(bytesOf(t.key, size))).toBe(true);
                  await s.schedule(Promise.resolve(), `hold ${key}`);
                  expect(readFileSync(h.path).equals(bytesOf(t.key, size))).toBe(true);
                  await h.release();
                  return 'ok';
                } catch (err) {
                  if (isStreamsError(err, 'STREAMS_CACHE_TOO_SMALL')) return 'too small';
                  if ((err as Error).message === 'injected failure') return 'failed';
                  throw err;
                } finally {
                  const st = cache.stats();
                  expect(st.bytesInUse + st.reservedBytes).toBeLessThanOrEqual(budget);
                }
              }),
            );
            // Releases scheduled steps in the order fast-check picks until every task is done.
            const outcomes = await s.waitFor(all);
            expect(outcomes.length).toBe(tasks.length);
            // A key is filled only when absent and not being filled; evicted only when cached.
            const state = new Map<string, string>();
            for (const line of log) {
              const [what, key] = line.split(' ') as [string, string];
              const now = state.get(key);
              if (what === 'fill') {
                expect(now, line).toBeUndefined();
                state.set(key, 'filling');
              } else if (what === 'commit') {
                expect(now, line).toBe('filling');
                state.set(key, 'cached');
              } else if (what === 'fail') {
                expect(now, line).toBe('filling');
                state.delete(key);
              } else {
                expect(now, line).toBe('cached');
                state.delete(key);
              }
            }
            const audit = await cache.audit();
            expect(audit.problems).toEqual([]);
            expect(audit.tmpBytes).toBe(0);
            expect(audit.reservedBytes).toBe(0);
          } finally {
            await cache.close();
            rmSync(dir, { recursive: true, force: true });
          }
        },
      ),
      { numRuns: 40 },
    );
  }, 60_000);
});
