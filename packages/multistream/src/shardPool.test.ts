import type { LoadedUnit } from '@streams/index';
import { describe, expect, it } from 'vitest';
import { ShardPool } from './shardPool.js';

/** A pool whose unit k loads as k bytes in memory; records loads and releases. */
function pool(memoryLimit: number, lingerBytes = memoryLimit) {
  const loads: number[] = [];
  const released: number[] = [];
  const unit = (k: number): LoadedUnit => ({
    samples: 1,
    memoryBytes: k,
    hit: true,
    decode: () => ({ k }),
    release: async () => {
      released.push(k);
    },
  });
  const p = new ShardPool(
    Number.POSITIVE_INFINITY,
    async (k) => {
      loads.push(k);
      return unit(k);
    },
    lingerBytes,
    memoryLimit,
  );
  return { p, loads, released };
}

const settle = () => new Promise((r) => setImmediate(r));

describe('ShardPool under a memory limit', () => {
  it('starts loads only while resident bytes fit; lingering units make room, oldest first', async () => {
    const { p, loads, released } = pool(100);
    p.ref(40, 0, 40);
    p.ref(41, 0, 41);
    p.ref(42, 0, 42); // 40 + 41 + 42 > 100: waits
    await settle();
    expect(loads).toEqual([40, 41]);
    expect(p.residentBytes).toBe(81);
    expect(p.queueDepth).toBe(1);
    p.unref(40); // lingers, so 42 can take its room
    await settle();
    expect(loads).toEqual([40, 41, 42]);
    expect(released).toEqual([40]);
    expect(p.residentBytes).toBe(83);
    expect((await p.get(42)).memoryBytes).toBe(42);
    await p.close();
  });

  it('the unit the consumer waits on starts beyond the limit (no deadlock), one at a time', async () => {
    const { p, loads } = pool(50);
    p.ref(40, 0, 40);
    p.ref(30, 0, 30);
    p.ref(20, 0, 20);
    await settle();
    expect(loads).toEqual([40]);
    p.urge(20);
    p.urge(30); // waits for the overdraft in flight to settle
    expect((await p.get(20)).memoryBytes).toBe(20);
    await settle();
    expect(loads).toEqual([40, 20, 30]);
    expect(p.residentBytes).toBe(90);
    await p.close();
  });

  it('a unit referenced without lingering leaves memory with its last reference', async () => {
    const { p, released } = pool(1000);
    p.ref(7, 0, 7, false);
    await p.get(7);
    await settle();
    expect(p.residentBytes).toBe(7);
    p.unref(7);
    await settle();
    expect(p.residentBytes).toBe(0);
    expect(released).toEqual([7]);
    // A lingering one stays, counted, until the limit needs its room.
    p.ref(8, 0, 8);
    await p.get(8);
    p.unref(8);
    await settle();
    expect(p.residentBytes).toBe(8);
    await p.close();
  });

  it('counts a loaded unit at its own size, not the estimate it was referenced with', async () => {
    const { p } = pool(100);
    p.ref(10, 0, 60);
    p.ref(20, 0, 60); // 120 estimated: waits
    expect(p.queueDepth).toBe(1);
    await p.get(10); // loads as 10 bytes: 20 now fits
    await settle();
    expect(p.queueDepth).toBe(0);
    await p.get(20);
    expect(p.residentBytes).toBe(30);
    await p.close();
  });
});
