import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CacheState, type JournalOp } from './cacheState.js';

const key = fc.constantFrom('a', 'b', 'c', 'd/e');
const owner = fc.constantFrom('1.1.x', '2.2.y', '3.3.z');
const time = fc.integer({ min: 0, max: 1e6 });
const op: fc.Arbitrary<JournalOp> = fc.oneof(
  fc.record({
    o: fc.constant('open' as const),
    w: owner,
    limit: fc.integer({ min: 1, max: 500 }),
    t: time,
  }),
  fc.record({ o: fc.constant('close' as const), w: owner }),
  fc.record({
    o: fc.constant('claim' as const),
    k: key,
    w: owner,
    r: fc.nat(100),
    tmp: fc.string(),
    t: time,
  }),
  fc.record({ o: fc.constant('reserve' as const), k: key, r: fc.nat(100) }),
  fc.record({ o: fc.constant('abort' as const), k: key }),
  fc.record(
    {
      o: fc.constant('commit' as const),
      k: key,
      f: fc.string(),
      s: fc.nat(100),
      h: fc.string(),
      l: fc.constant(1 as const),
      w: owner,
      t: time,
    },
    { requiredKeys: ['o', 'k', 'f', 's', 'w', 't'] },
  ),
  fc.record({ o: fc.constant('pin' as const), k: key, w: owner, t: time }),
  fc.record({ o: fc.constant('unpin' as const), k: key, w: owner, t: time }),
  fc.record({ o: fc.constant('evict' as const), k: key }),
  fc.record({ o: fc.constant('touch' as const), k: key, t: time }),
);

function view(s: CacheState) {
  return {
    entries: [...s.entries.values()],
    pins: [...s.pins].map(([k, m]) => [k, [...m].sort()]).sort(),
    claims: [...s.claims.values()],
    owners: [...s.owners].sort(),
    clock: s.clock,
    usage: s.usage,
    localBytes: s.localBytes,
    reserved: s.reserved,
  };
}

describe('CacheState (property-based)', () => {
  it('keeps its totals equal to its records and survives a snapshot round trip', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const s = new CacheState();
        for (const o of ops) s.apply(o);
        const entries = [...s.entries.values()];
        expect(s.usage).toBe(entries.reduce((a, e) => a + e.size, 0));
        expect(s.localBytes).toBe(entries.filter((e) => e.local).reduce((a, e) => a + e.size, 0));
        expect(s.reserved).toBe([...s.claims.values()].reduce((a, c) => a + c.reserve, 0));
        for (const byOwner of s.pins.values())
          for (const n of byOwner.values()) expect(n).toBeGreaterThan(0);
        // LRU order is the order of last use.
        const ticks = entries.map((e) => e.tick);
        expect(ticks).toEqual([...ticks].sort((x, y) => x - y));
        // Compaction writes snapshot(); every process rebuilds from it.
        const copy = new CacheState();
        copy.apply(JSON.parse(JSON.stringify(s.snapshot())) as JournalOp);
        expect(view(copy)).toEqual(view(s));
        // An eviction plan frees enough, in LRU order, and never touches pinned or local entries.
        const need = 50;
        const budget = s.budget;
        const plan = s.planEviction(need, Number.isFinite(budget) ? budget : 200);
        if (plan) {
          for (const k of plan) {
            expect(s.isPinned(k)).toBe(false);
            expect(s.entries.get(k)!.local).toBe(false);
          }
          const freed = plan.reduce((a, k) => a + s.entries.get(k)!.size, 0);
          const limit = Number.isFinite(budget) ? budget : 200;
          expect(s.usage + s.reserved + need - freed).toBeLessThanOrEqual(limit);
          const order = [...s.entries.keys()];
          expect(plan).toEqual(order.filter((k) => plan.includes(k)));
        }
      }),
      { numRuns: 300 },
    );
  });
});
