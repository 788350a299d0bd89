import { createHash } from 'node:crypto';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { open as openFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isStreamsError, type StreamsEvent } from '@streams/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { entryFile } from './cacheKey.js';
import type { CacheOptions } from './cacheOptions.js';
import { openCache } from './diskCache.js';

let dir: string;
let outside: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'streams-cache-'));
  outside = mkdtempSync(join(tmpdir(), 'streams-outside-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

const open = (o: Partial<CacheOptions> = {}) => openCache({ dir, limit: 1000, fsync: false, ...o });
const writer = (bytes: Buffer | string) => async (ctx: { tmpPath: string }) => {
  await writeFile(ctx.tmpPath, bytes);
};
const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function expectCode(p: Promise<unknown>, code: string): Promise<Error> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isStreamsError(err)).toBe(true);
  expect((err as { code: string }).code).toBe(code);
  return err as Error;
}

describe('DiskCache', { timeout: 60_000 }, () => {
  it('fills on a miss, serves hits, and reports stats and events', async () => {
    const events: StreamsEvent[] = [];
    await using cache = await open({ onEvent: (e) => events.push(e) });
    let fills = 0;
    const fill = async ({ tmpPath }: { tmpPath: string }) => {
      fills++;
      await writeFile(tmpPath, 'hello');
      return { hash: sha256('hello') };
    };
    {
      await using h = await cache.acquire('greetings/hello.txt', fill);
      expect(h.hit).toBe(false);
      expect(h.size).toBe(5);
      expect(h.hash).toBe(sha256('hello'));
      expect(h.path.startsWith(join(cache.dir, 'data'))).toBe(true);
      expect(h.path.endsWith('-hello.txt')).toBe(true);
      expect(readFileSync(h.path, 'utf8')).toBe('hello');
      expect(cache.stats().pinnedBytes).toBe(5);
    }
    const h2 = await cache.acquire('greetings/hello.txt', fill);
    expect(h2.hit).toBe(true);
    await h2.release();
    await h2.release(); // idempotent
    expect(fills).toBe(1);
    expect(await cache.has('greetings/hello.txt')).toBe(true);
    expect(await cache.has('nope')).toBe(false);
    const s = cache.stats();
    expect(s).toMatchObject({ hits: 1, misses: 1, fills: 1, bytesInUse: 5, pinnedBytes: 0 });
    expect(s.budget).toBe(1000);
    const names = events.map((e) => e.name);
    expect(names).toContain('cache.miss');
    expect(names).toContain('cache.fill');
    expect(names).toContain('cache.hit');
    expect(events.every((e) => e.source === 'cache')).toBe(true);
  });

  it('commits a fill that fsynced its own file (synced: true) like any other', async () => {
    await using cache = await open({ fsync: true });
    await using h = await cache.acquire('synced.bin', async ({ tmpPath }) => {
      const fh = await openFile(tmpPath, 'w');
      await fh.write(Buffer.alloc(300, 3));
      await fh.sync();
      await fh.close();
      return { hash: sha256(Buffer.alloc(300, 3)), synced: true };
    });
    expect(h.hit).toBe(false);
    expect(readFileSync(h.path).equals(Buffer.alloc(300, 3))).toBe(true);
    expect(h.hash).toBe(sha256(Buffer.alloc(300, 3)));
    expect(await cache.audit()).toMatchObject({ problems: [], tmpBytes: 0, recordedBytes: 300 });
  });

  it('runs many fills at once without a listener-leak warning', async () => {
    await using cache = await open({ limit: 100_000 });
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const handles = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          cache.acquire(`many/${i}`, async ({ tmpPath }) => {
            await writeFile(tmpPath, `entry ${i}`);
          }),
        ),
      );
      expect(handles.every((h) => !h.hit)).toBe(true);
      await Promise.all(handles.map((h) => h.release()));
      // Warnings are emitted on the next tick.
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
  });

  it('fills a key once for concurrent acquires and hands every caller a pin', async () => {
    await using cache = await open();
    let fills = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const fill = async ({ tmpPath }: { tmpPath: string }) => {
      fills++;
      await gate;
      await writeFile(tmpPath, 'abc');
    };
    const all = Promise.all([1, 2, 3].map(() => cache.acquire('k', fill)));
    setTimeout(release, 20);
    const handles = await all;
    expect(fills).toBe(1);
    expect(handles.filter((h) => !h.hit)).toHaveLength(1);
    expect((await cache.list()).find((e) => e.key === 'k')?.ownPins).toBe(3);
    await Promise.all(handles.map((h) => h.release()));
    // Releases are written at the next lock session, which list() runs.
    expect((await cache.list()).find((e) => e.key === 'k')?.pins).toBe(0);
  });

  it('cleans up a failed fill and fills again on the next acquire', async () => {
    await using cache = await open();
    await expect(
      cache.acquire('k', async ({ tmpPath }) => {
        await writeFile(`${tmpPath}.part`, 'partial'); // a downloader's own temp file
        throw new Error('network down');
      }),
    ).rejects.toThrow('network down');
    expect(readdirSync(join(cache.dir, 'tmp'))).toEqual([]);
    expect(await cache.has('k')).toBe(false);
    expect(cache.stats().fillFailures).toBe(1);
    await using h = await cache.acquire('k', writer('complete'));
    expect(readFileSync(h.path, 'utf8')).toBe('complete');
  });

  it("makes the entry's data/ directory while the fill runs, not in the commit", async () => {
    await using cache = await open();
    const fanout = join(cache.dir, 'data', entryFile('k').slice(0, 2));
    let madeDuringFill = false;
    await using h = await cache.acquire('k', async ({ tmpPath }) => {
      // The mkdir runs on the thread pool: give it turns of the event loop to land.
      for (let i = 0; i < 500 && !madeDuringFill; i++) {
        await new Promise((r) => setTimeout(r, 1));
        madeDuringFill = existsSync(fanout);
      }
      await writeFile(tmpPath, 'bytes');
    });
    expect(madeDuringFill).toBe(true);
    expect(readFileSync(h.path, 'utf8')).toBe('bytes');
    // A fan-out directory removed behind the cache's back is made again by the commit.
    await h.release();
    expect(await cache.remove('k')).toBe(true);
    rmSync(fanout, { recursive: true });
    await using again = await cache.acquire('k', writer('again'));
    expect(readFileSync(again.path, 'utf8')).toBe('again');
  });

  it("deletes a committed fill's files next to tmpPath (by close at the latest)", async () => {
    const cache = await open();
    const parts: string[] = [];
    await Promise.all(
      ['a', 'b', 'c'].map(async (k) => {
        const h = await cache.acquire(k, async ({ tmpPath }) => {
          await writeFile(`${tmpPath}.part`, 'scratch'); // a downloader's own temp file
          parts.push(`${tmpPath}.part`);
          await writeFile(tmpPath, k);
        });
        expect(readFileSync(h.path, 'utf8')).toBe(k);
        await h.release();
      }),
    );
    await cache.close();
    expect(parts).toHaveLength(3);
    expect(readdirSync(join(cache.dir, 'tmp'))).toEqual([]);
  });

  it('refuses a fill that writes nothing or leaves a symlink (no escape through tmpPath)', async () => {
    await using cache = await open();
    await expectCode(
      cache.acquire('k', async () => {}),
      'STREAMS_INVALID_ARGUMENT',
    );
    const secret = join(outside, 'secret');
    writeFileSync(secret, 'do not expose');
    await expectCode(
      cache.acquire('k', async ({ tmpPath }) => symlinkSync(secret, tmpPath)),
      'STREAMS_UNSAFE_PATH',
    );
    expect(readFileSync(secret, 'utf8')).toBe('do not expose');
    expect(await cache.has('k')).toBe(false);
    expect(readdirSync(join(cache.dir, 'tmp'))).toEqual([]);
  });

  it('rejects unsafe keys before touching the disk', async () => {
    await using cache = await open();
    for (const key of ['../x', 'a/../../x', '/etc/passwd', 'a\\b', 'a\0b', 'a//b', '']) {
      let called = false;
      await expectCode(
        cache.acquire(key, async () => {
          called = true;
        }),
        'STREAMS_UNSAFE_PATH',
      );
      expect(called).toBe(false);
    }
    expect(readdirSync(outside)).toEqual([]);
  });

  it('refuses to write through a symlink planted in the data directory', async () => {
    await using cache = await open();
    const fanout = entryFile('victim').slice(0, 2);
    symlinkSync(outside, join(cache.dir, 'data', fanout));
    await expectCode(cache.acquire('victim', writer('x')), 'STREAMS_UNSAFE_PATH');
    expect(readdirSync(outside)).toEqual([]);
    expect(readdirSync(join(cache.dir, 'tmp'))).toEqual([]);
  });

  it('refuses a cache whose data directory is a symlink', async () => {
    mkdirSync(join(dir, 'x'));
    symlinkSync(outside, join(dir, 'data'));
    await expectCode(open(), 'STREAMS_UNSAFE_PATH');
  });

  it('evicts least recently used unpinned entries, never pinned ones', async () => {
    const evicted: string[] = [];
    await using cache = await open({
      limit: 30,
      onEvent: (e) => e.name === 'cache.evict' && evicted.push(String(e.attrs?.key)),
    });
    for (const k of ['a', 'b', 'c']) await (await cache.acquire(k, writer('0123456789'))).release();
    await (await cache.acquire('a', writer('x'))).release(); // a is now most recent
    const pinned = await cache.acquire('b', writer('x')); // b pinned
    await (await cache.acquire('d', writer('0123456789'))).release();
    expect(evicted).toEqual(['c']);
    await (await cache.acquire('e', writer('0123456789'))).release();
    expect(evicted).toEqual(['c', 'a']);
    expect(await cache.has('b')).toBe(true);
    await pinned.release();
    expect(cache.stats().bytesInUse).toBe(30);
  });

  it('fails fast with STREAMS_CACHE_TOO_SMALL when an entry exceeds the budget or all is pinned', async () => {
    await using cache = await open({ limit: 20 });
    const big = await expectCode(
      cache.acquire('big', writer('x'.repeat(21)), { expectedSize: 21 }),
      'STREAMS_CACHE_TOO_SMALL',
    );
    expect(big.message).toContain('larger than the budget');
    expect(big.message).toContain('21 B');
    // Unannounced: found at commit, the temp file is removed.
    await expectCode(cache.acquire('big', writer('x'.repeat(21))), 'STREAMS_CACHE_TOO_SMALL');
    expect(readdirSync(join(cache.dir, 'tmp'))).toEqual([]);
    const a = await cache.acquire('a', writer('x'.repeat(15)));
    const err = await expectCode(
      cache.acquire('b', writer('y'.repeat(10)), { expectedSize: 10 }),
      'STREAMS_CACHE_TOO_SMALL',
    );
    expect(err.message).toContain('15 B pinned');
    expect(err.message).toContain('needs at least 25 B');
    await a.release();
    await using b = await cache.acquire('b', writer('y'.repeat(10)), { expectedSize: 10 });
    expect(b.size).toBe(10);
    expect(await cache.has('a')).toBe(false);
  });

  it('keeps local-only entries, counts them, and never evicts them', async () => {
    await using cache = await open({ limit: 30, ttlMs: 1, gcIntervalMs: 0 });
    await (await cache.acquire('mine', writer('x'.repeat(20)), { localOnly: true })).release();
    expect(cache.stats()).toMatchObject({ bytesInUse: 20, localBytes: 20 });
    await (await cache.acquire('r1', writer('y'.repeat(10)))).release();
    await (await cache.acquire('r2', writer('y'.repeat(10)))).release();
    expect(await cache.has('mine')).toBe(true);
    expect(await cache.has('r1')).toBe(false);
    const err = await expectCode(
      cache.acquire('r3', writer('z'.repeat(11)), { expectedSize: 11 }),
      'STREAMS_CACHE_TOO_SMALL',
    );
    expect(err.message).toContain('20 B local-only');
    await new Promise((r) => setTimeout(r, 5));
    await cache.gc();
    expect(await cache.has('mine')).toBe(true);
  });

  it('reserves announced sizes before the fill and grows reservations through ctx.reserve', async () => {
    await using cache = await open({ limit: 100 });
    let seenDuringFill = -1;
    await (
      await cache.acquire(
        'a',
        async ({ tmpPath }) => {
          seenDuringFill = (await cache.refresh()).reservedBytes;
          await writeFile(tmpPath, 'x'.repeat(40));
        },
        { expectedSize: 40 },
      )
    ).release();
    expect(seenDuringFill).toBe(40);
    await (await cache.acquire('b', writer('x'.repeat(40)))).release();
    // An unannounced fill learns its size (like a Content-Length) and reserves: `a` makes room.
    let afterReserve = -1;
    await (
      await cache.acquire('c', async ({ tmpPath, reserve }) => {
        await reserve(50);
        afterReserve = cache.stats().reservedBytes;
        await writeFile(tmpPath, 'x'.repeat(50));
      })
    ).release();
    expect(afterReserve).toBe(50);
    expect(await cache.has('a')).toBe(false);
    expect(cache.stats()).toMatchObject({ bytesInUse: 90, reservedBytes: 0 });
    await expect(
      cache.acquire('d', async ({ reserve }) => {
        await reserve(101);
      }),
    ).rejects.toMatchObject({ code: 'STREAMS_CACHE_TOO_SMALL' });
    expect(cache.stats().reservedBytes).toBe(0);
  });

  it('aborts a caller waiting on a fill without disturbing the fill', async () => {
    await using cache = await open();
    let finish!: () => void;
    const gate = new Promise<void>((r) => {
      finish = r;
    });
    const first = cache.acquire('k', async ({ tmpPath }) => {
      await gate;
      await writeFile(tmpPath, 'data');
    });
    const ac = new AbortController();
    const second = cache.acquire('k', writer('never'), { signal: ac.signal });
    ac.abort();
    await expect(second).rejects.toMatchObject({ name: 'AbortError' });
    finish();
    const h = await first;
    expect(readFileSync(h.path, 'utf8')).toBe('data');
    await h.release();
  });

  it('passes the abort to the fill and keeps a late result unpinned', async () => {
    await using cache = await open();
    const ac = new AbortController();
    let sawAbort = false;
    let started!: () => void;
    const fillStarted = new Promise<void>((r) => {
      started = r;
    });
    let finish!: () => void;
    const gate = new Promise<void>((r) => {
      finish = r;
    });
    const p = cache.acquire(
      'k',
      async ({ tmpPath, signal }) => {
        signal.addEventListener('abort', () => {
          sawAbort = true;
        });
        started();
        await gate; // a filler that finishes its write anyway
        await writeFile(tmpPath, 'late');
      },
      { signal: ac.signal },
    );
    await fillStarted;
    ac.abort();
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
    finish();
    expect(sawAbort).toBe(true);
    await new Promise((r) => setTimeout(r, 50));
    await using h = await cache.acquire('k', writer('unused'));
    expect(h.hit).toBe(true);
    expect((await cache.list()).find((e) => e.key === 'k')?.ownPins).toBe(1);
  });

  it('removes entries unused for the TTL, but not pinned or recently used ones', async () => {
    let now = 1_000_000;
    await using cache = await open({ ttlMs: 60_000, gcIntervalMs: 0, now: () => now });
    await (await cache.acquire('old', writer('1'))).release();
    await (await cache.acquire('used', writer('2'))).release();
    const pinned = await cache.acquire('pinned', writer('3'));
    now += 50_000;
    await (await cache.acquire('used', writer('x'))).release();
    now += 20_000;
    const result = await cache.gc();
    expect(result).toEqual({ removed: 1, freedBytes: 1 });
    expect(await cache.has('old')).toBe(false);
    expect(await cache.has('used')).toBe(true);
    expect(await cache.has('pinned')).toBe(true);
    await pinned.release();
    now += 61_000;
    expect((await cache.gc()).removed).toBe(2);
    expect(cache.stats().bytesInUse).toBe(0);
  });

  it('recovers on open: drops damaged entries, unrecorded files and stray temp files', async () => {
    {
      await using cache = await open();
      for (const k of ['a', 'b', 'c'])
        await (await cache.acquire(k, writer('0123456789'))).release();
    }
    const data = join(dir, 'data');
    truncateSync(join(data, entryFile('a')), 3); // damaged
    rmSync(join(data, entryFile('b'))); // gone
    mkdirSync(join(data, 'ff'), { recursive: true });
    writeFileSync(join(data, 'ff', 'stray'), 'junk'); // no record
    writeFileSync(join(dir, 'tmp', '999999.1.dead~1.tmp'), 'partial'); // a dead filler's temp
    appendFileSync(join(dir, 'journal'), '{"o":"commit","k":"torn'); // torn last record
    const events: StreamsEvent[] = [];
    await using cache = await open({ onEvent: (e) => events.push(e) });
    expect(events.some((e) => e.name === 'cache.recover')).toBe(true);
    expect(await cache.has('a')).toBe(false);
    expect(await cache.has('b')).toBe(false);
    expect(await cache.has('c')).toBe(true);
    expect(existsSync(join(data, 'ff', 'stray'))).toBe(false);
    expect(readdirSync(join(dir, 'tmp'))).toEqual([]);
    const audit = await cache.audit();
    expect(audit.problems).toEqual([]);
    expect(audit.recordedBytes).toBe(10);
    expect(audit.dataBytes).toBe(10);
    expect(cache.stats().bytesInUse).toBe(10);
    await using again = await cache.acquire('a', writer('fresh'));
    expect(again.hit).toBe(false);
  });

  it('with verify: "hash", drops entries whose bytes no longer match their digest', async () => {
    {
      await using cache = await open();
      await (
        await cache.acquire('a', async ({ tmpPath }) => {
          await writeFile(tmpPath, 'aaaa');
          return { hash: sha256('aaaa') };
        })
      ).release();
      await (
        await cache.acquire('b', async ({ tmpPath }) => {
          await writeFile(tmpPath, 'bbbb');
          return { hash: sha256('bbbb') };
        })
      ).release();
    }
    writeFileSync(join(dir, 'data', entryFile('a')), 'AAAA'); // same size, other bytes
    await using cache = await open({ verify: 'hash' });
    expect(await cache.has('a')).toBe(false);
    expect(await cache.has('b')).toBe(true);
  });

  it('notices a file deleted behind its back and fills it again', async () => {
    await using cache = await open();
    await (await cache.acquire('k', writer('one'))).release();
    rmSync(join(dir, 'data', entryFile('k')));
    await using h = await cache.acquire('k', writer('two'));
    expect(h.hit).toBe(false);
    expect(readFileSync(h.path, 'utf8')).toBe('two');
  });

  it('compacts the journal and stays consistent for a second instance in the same process', async () => {
    await using a = await open();
    await using b = await open();
    for (let i = 0; i < 3000; i++) {
      const c = i % 2 ? a : b;
      await (await c.acquire(`k${i % 50}`, writer('x'.repeat(10)))).release();
    }
    expect(statSync(join(a.dir, 'journal')).size).toBeLessThan(1 << 21);
    await b.refresh();
    expect(a.stats().bytesInUse).toBe(500);
    expect(b.stats().bytesInUse).toBe(500);
    expect(b.stats().openProcesses).toBe(2);
    expect((await a.audit()).problems).toEqual([]);
  });

  it('applies the smallest limit among open users, evicting down to it when a smaller one opens', async () => {
    const evicted: string[] = [];
    await using big = await open({
      limit: 100,
      onEvent: (e) =>
        e.name === 'cache.evict' && evicted.push(`${e.attrs?.key}:${e.attrs?.reason}`),
    });
    for (const k of ['a', 'b', 'c', 'd'])
      await (await big.acquire(k, writer('x'.repeat(20)))).release();
    {
      await using small = await open({
        limit: 50,
        onEvent: (e) =>
          e.name === 'cache.evict' && evicted.push(`${e.attrs?.key}:${e.attrs?.reason}`),
      });
      expect(small.stats()).toMatchObject({ budget: 50, bytesInUse: 40, openProcesses: 2 });
      expect(evicted).toEqual(['a:budget', 'b:budget']);
      await expectCode(
        big.acquire('e', writer('x'.repeat(60)), { expectedSize: 60 }),
        'STREAMS_CACHE_TOO_SMALL',
      );
    }
    // The small user closed: the larger limit applies again.
    await using e = await big.acquire('e', writer('x'.repeat(60)), { expectedSize: 60 });
    expect((await big.refresh()).budget).toBe(100);
    expect(e.size).toBe(60);
  });

  it('runs gc by itself every gcIntervalMs when a TTL is set', async () => {
    let now = 5_000_000;
    const gcs: StreamsEvent[] = [];
    await using cache = await open({
      ttlMs: 1000,
      gcIntervalMs: 10,
      now: () => now,
      onEvent: (e) => e.name === 'cache.gc' && gcs.push(e),
    });
    await (await cache.acquire('old', writer('x'))).release();
    now += 5000;
    const removed = await new Promise<number>((resolve) => {
      const off = cache.on((e) => {
        if (e.name === 'cache.gc' && (e.counters?.removed ?? 0) > 0) {
          off();
          resolve(e.counters!.removed!);
        }
      });
    });
    expect(removed).toBe(1);
    expect(await cache.has('old')).toBe(false);
    expect(gcs.length).toBeGreaterThan(1);
  });

  it('removes an entry on request unless another user pins it', async () => {
    await using a = await open();
    await using b = await open();
    const mine = await a.acquire('broken.jpg', writer('not a jpeg'));
    expect(await a.remove('broken.jpg')).toBe(true); // own pin: allowed
    expect(await a.has('broken.jpg')).toBe(false);
    await mine.release();
    expect(await a.remove('broken.jpg')).toBe(false); // already gone
    const theirs = await b.acquire('other.bin', writer('x'));
    expect(await a.remove('other.bin')).toBe(false); // pinned by another instance
    await theirs.release();
    await b.refresh(); // b writes its release in its next lock session
    expect(await a.remove('other.bin')).toBe(true);
    expect((await a.audit()).problems).toEqual([]);
    expect(a.stats().bytesInUse).toBe(0);
  });

  it('refuses a journal of an unknown format version', async () => {
    writeFileSync(
      join(dir, 'journal'),
      '{"o":"snapshot","v":2,"clock":0,"entries":[],"owners":[],"pins":[],"claims":[]}\n',
    );
    await expectCode(open(), 'STREAMS_CACHE_CORRUPT');
  });

  it('lets event listeners call the cache (they run while it holds its lock)', async () => {
    const seen: number[] = [];
    let hasResult: Promise<boolean> | undefined;
    await using cache = await open({
      limit: 10,
      onEvent: (e) => {
        if (e.name !== 'cache.evict') return;
        seen.push(cache.stats().bytesInUse);
        hasResult = cache.has('a');
      },
    });
    await (await cache.acquire('a', writer('x'.repeat(10)))).release();
    await (await cache.acquire('b', writer('y'.repeat(10)))).release();
    expect(seen).toEqual([0]);
    expect(await hasResult).toBe(false);
  });

  it('validates options', async () => {
    await expectCode(open({ limit: '12 parsecs' }), 'STREAMS_INVALID_CONFIG');
    await expectCode(open({ limit: 0 }), 'STREAMS_INVALID_CONFIG');
    await using cache = await open();
    await expectCode(
      cache.acquire('k', writer('x'), { expectedSize: -1 }),
      'STREAMS_INVALID_ARGUMENT',
    );
    await cache.close();
    await expectCode(cache.acquire('k', writer('x')), 'STREAMS_INVALID_ARGUMENT');
  });
});

describe('openCache', () => {
  it('defaults to STREAMS_CACHE_DIR', async () => {
    const before = process.env.STREAMS_CACHE_DIR;
    process.env.STREAMS_CACHE_DIR = join(dir, 'from-env');
    try {
      await using cache = await openCache({ limit: '1mb' });
      expect(cache.dir).toBe(join(realpathSync(dir), 'from-env'));
      expect(cache.stats().budget).toBe(1024 * 1024);
    } finally {
      if (before === undefined) delete process.env.STREAMS_CACHE_DIR;
      else process.env.STREAMS_CACHE_DIR = before;
    }
  });

  it('gives up waiting for a busy lock when its signal aborts, leaving nothing behind', async () => {
    mkdirSync(join(dir, 'lock'), { recursive: true });
    writeFileSync(join(dir, 'lock', 'held'), `${process.ppid}.0.busy\n`); // a live holder
    const ac = new AbortController();
    const opening = openCache({ dir, limit: 100, signal: ac.signal });
    setTimeout(() => ac.abort(), 20);
    await expect(opening).rejects.toMatchObject({ name: 'AbortError' });
    expect(readdirSync(join(dir, 'owners'))).toEqual([]);
    rmSync(join(dir, 'lock', 'held'));
    await using cache = await openCache({ dir, limit: 100 });
    expect(cache.stats().openProcesses).toBe(1);
  });
});

/** The private steps the race tests below interleave by hand. */
interface Internals {
  fastHit(key: string): { path: string; release(): Promise<void> } | undefined;
  lock: { tryAcquire(): boolean; release(): void };
  core: {
    catchUp(brokeStaleLock: boolean): string | undefined;
    record(ops: ReadonlyArray<{ o: string }>, durable?: boolean): void;
    state: { planEviction(need: number, budget?: number): string[] | undefined };
  };
  pins: { change(key: string, delta: number): void };
  eviction: { evict(keys: string[], reason: string): number };
}
const internals = (c: unknown) => c as Internals;

describe('lockless hits against a concurrent eviction', { timeout: 60_000 }, () => {
  it('serves hits without the lock and keeps pinned entries out of eviction plans', async () => {
    await using a = await open({ limit: 20 });
    await using b = await open({ limit: 20 });
    await (await a.acquire('k', writer('x'.repeat(10)))).release();
    const h = await b.acquire('k', writer('never'));
    expect(h.hit).toBe(true);
    expect(readdirSync(join(dir, 'pins'))).toContain(b.owner);
    // a needs all 20 bytes: k is pinned by b's lockless hit, so a must fail fast.
    const err = await expectCode(
      a.acquire('big', writer('y'.repeat(20)), { expectedSize: 20 }),
      'STREAMS_CACHE_TOO_SMALL',
    );
    expect(err.message).toContain('10 B pinned');
    expect((await a.list())[0]).toMatchObject({ key: 'k', pins: 1, ownPins: 0 });
    await h.release();
    await using big = await a.acquire('big', writer('y'.repeat(20)), { expectedSize: 20 });
    expect(big.size).toBe(20);
    expect(await a.has('k')).toBe(false);
  });

  it('restores an entry whose reader pinned it after the evictor planned, before it recorded', async () => {
    await using a = await open({ limit: 20 });
    await using b = await open({ limit: 20 });
    await (await a.acquire('k', writer('x'.repeat(10)))).release();
    await b.refresh();
    const state = internals(a).core.state;
    const plan = state.planEviction.bind(state);
    let reader: { path: string; release(): Promise<void> } | undefined;
    state.planEviction = (need, budget) => {
      const keys = plan(need, budget);
      // b's lockless hit completes between a's plan and a's eviction record.
      reader ??= internals(b).fastHit('k');
      return keys;
    };
    const events: string[] = [];
    a.on((e) => events.push(e.name));
    const err = await a
      .acquire('big', writer('y'.repeat(20)), { expectedSize: 20 })
      .catch((e: unknown) => e);
    expect(reader).toBeDefined();
    expect(err).toMatchObject({ code: 'STREAMS_CACHE_TOO_SMALL' });
    expect(events).not.toContain('cache.evict');
    expect(await a.has('k')).toBe(true);
    expect(readFileSync(reader!.path, 'utf8')).toBe('x'.repeat(10));
    expect((await a.audit()).problems).toEqual([]);
    await reader!.release();
  });

  it('sends a reader that pins after the eviction record to the locked path', async () => {
    await using a = await open({ limit: 20 });
    await using b = await open({ limit: 20 });
    await (await a.acquire('k', writer('x'.repeat(10)))).release();
    await b.refresh();
    const core = internals(a).core;
    const record = core.record.bind(core);
    let fast: unknown = 'not tried';
    core.record = (ops, durable) => {
      record(ops, durable);
      // b tries a lockless hit right after a recorded the eviction of k, before a deletes it.
      if (ops.some((op) => op.o === 'evict') && fast === 'not tried')
        fast = internals(b).fastHit('k');
    };
    await using big = await a.acquire('big', writer('y'.repeat(20)), { expectedSize: 20 });
    expect(big.hit).toBe(false);
    expect(fast).toBeUndefined(); // it saw the eviction and backed off
    expect(await a.has('k')).toBe(false);
    const again = await b.acquire('k', writer('z'.repeat(1))).catch((e: unknown) => e);
    expect(again).toMatchObject({ code: 'STREAMS_CACHE_TOO_SMALL' }); // big is pinned: no room
    expect(readdirSync(join(dir, 'pins')).length).toBeLessThanOrEqual(2);
  });

  it('backs off when the whole eviction ran between its first read and its pin', async () => {
    await using a = await open({ limit: 20 });
    await using b = await open({ limit: 20 });
    await (await a.acquire('k', writer('x'.repeat(10)))).release();
    await b.refresh();
    const pins = internals(b).pins;
    const change = pins.change.bind(pins);
    let evicted = 0;
    pins.change = (key, delta) => {
      if (delta > 0 && evicted === 0) {
        // a evicts k completely (record, pin check, unlink) before b's pin is published.
        const ia = internals(a);
        expect(ia.lock.tryAcquire()).toBe(true);
        expect(ia.core.catchUp(false)).toBeUndefined();
        evicted = ia.eviction.evict(['k'], 'lru');
        ia.lock.release();
      }
      change(key, delta);
    };
    expect(internals(b).fastHit('k')).toBeUndefined(); // its second read saw the eviction
    expect(evicted).toBe(10);
    await using h = await b.acquire('k', writer('refilled'));
    expect(h.hit).toBe(false);
    expect(readFileSync(h.path, 'utf8')).toBe('refilled');
  });
});
