import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StreamsEvent } from '@streams/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { entryFile, openCache } from '../src/index.js';
import { spawnFixture, waitForLine } from './spawnTs.js';

let dir: string;
const children: ChildProcess[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'streams-cache-crash-'));
});
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const writer =
  (text: string) =>
  async ({ tmpPath }: { tmpPath: string }) => {
    await writeFile(tmpPath, text);
  };

async function kill9(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

/** Starts a child that claims `key`, writes half of it and hangs. */
async function startCrashFiller(key: string, size: number): Promise<ChildProcess> {
  const child = spawnFixture('crashFiller.ts', [dir, key, String(size)]);
  children.push(child);
  await waitForLine(child, 'FILLING');
  return child;
}

describe('crash safety with real processes', { timeout: 60_000 }, () => {
  it('kill -9 mid-fill, then a restart: no partial file, exact usage, the key fills again', async () => {
    {
      await using cache = await openCache({ dir, limit: 1 << 20 });
      await (await cache.acquire('keep/a', writer('a'.repeat(100)))).release();
      await (await cache.acquire('keep/b', writer('b'.repeat(250)))).release();
    }
    const child = await startCrashFiller('victim.bin', 4000);
    // While the filler runs, its partial bytes exist only as a temp file.
    expect(readdirSync(join(dir, 'tmp'))).toHaveLength(1);
    expect(statSync(join(dir, 'tmp', readdirSync(join(dir, 'tmp'))[0]!)).size).toBe(2000);
    await kill9(child);

    const events: StreamsEvent[] = [];
    await using cache = await openCache({ dir, limit: 1 << 20, onEvent: (e) => events.push(e) });
    expect(events.map((e) => e.name)).toContain('cache.recover');
    expect(readdirSync(join(dir, 'tmp'))).toEqual([]);
    expect(existsSync(join(dir, 'data', entryFile('victim.bin')))).toBe(false);
    expect(await cache.has('victim.bin')).toBe(false);
    expect(cache.stats()).toMatchObject({ bytesInUse: 350, reservedBytes: 0, openProcesses: 1 });
    const audit = await cache.audit();
    expect(audit).toMatchObject({ problems: [], recordedBytes: 350, dataBytes: 350, tmpBytes: 0 });
    let fills = 0;
    await using h = await cache.acquire('victim.bin', async ({ tmpPath }) => {
      fills++;
      await writeFile(tmpPath, Buffer.alloc(4000, 1));
    });
    expect(fills).toBe(1);
    expect(h.hit).toBe(false);
    expect(readFileSync(h.path).equals(Buffer.alloc(4000, 1))).toBe(true);
    expect((await cache.acquire('keep/b', writer('x'))).hit).toBe(true);
  });

  it('a process waiting on a fill takes it over when the filler is killed, and can abort its wait', async () => {
    await using cache = await openCache({ dir, limit: 1 << 20 });
    const child = await startCrashFiller('shared.bin', 1000);
    expect(cache.stats().reservedBytes).toBe(0); // not refreshed yet
    expect((await cache.refresh()).reservedBytes).toBe(1000); // the child's reservation is shared

    const ac = new AbortController();
    const aborted = cache.acquire('shared.bin', writer('never'), { signal: ac.signal });
    setTimeout(() => ac.abort(), 30);
    await expect(aborted).rejects.toMatchObject({ name: 'AbortError' });

    let fills = 0;
    const waiting = cache.acquire('shared.bin', async ({ tmpPath }) => {
      fills++;
      await writeFile(tmpPath, 'taken over');
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(fills).toBe(0); // still waiting on the live child
    await kill9(child);
    await using h = await waiting;
    expect(fills).toBe(1);
    expect(h.waitedMs).toBeGreaterThan(0);
    expect(readFileSync(h.path, 'utf8')).toBe('taken over');
    const s = cache.stats();
    expect(s.waits).toBe(1);
    expect(s.reservedBytes).toBe(0);
    expect(s.openProcesses).toBe(1);
    expect(readdirSync(join(dir, 'tmp'))).toEqual([]);
  });

  it('pins of a killed process stop protecting its entries when space is needed', async () => {
    const child = spawnFixture('crashFiller.ts', [dir, 'held.bin', '600', 'pin']);
    children.push(child);
    await waitForLine(child, 'PINNED');
    await using cache = await openCache({ dir, limit: 1000 });
    expect((await cache.refresh()).pinnedBytes).toBe(600);
    // The child is alive: its pin holds, and the cache says so at once instead of waiting.
    const err = await cache
      .acquire('new.bin', writer('x'.repeat(500)), { expectedSize: 500 })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'STREAMS_CACHE_TOO_SMALL' });
    expect((err as Error).message).toContain('600 B pinned');
    await kill9(child);
    await using h = await cache.acquire('new.bin', writer('x'.repeat(500)), { expectedSize: 500 });
    expect(h.size).toBe(500);
    expect(await cache.has('held.bin')).toBe(false); // reaped, then evicted as the LRU entry
    expect(cache.stats()).toMatchObject({ bytesInUse: 500, openProcesses: 1 });
  });

  it('drops the pins of handles garbage-collected without a release, with a warning', async () => {
    const child = spawnFixture('leakHandle.ts', [dir], ['--expose-gc']);
    children.push(child);
    const result = JSON.parse((await child.output).trim());
    expect(result.leaked).toEqual(['hit.bin', 'miss.bin']);
    expect(result.pins).toEqual({ 'hit.bin': 0, 'miss.bin': 0 });
  });

  it('a process killed while holding the lock mid-write: the lock is broken and the state recovered', async () => {
    {
      await using cache = await openCache({ dir, limit: 1 << 20 });
      await (await cache.acquire('a', writer('aaaa'))).release();
    }
    const child = spawnFixture('lockHolder.ts', [dir]);
    children.push(child);
    await waitForLine(child, 'LOCKED');
    await kill9(child);
    expect(existsSync(join(dir, 'lock', 'held'))).toBe(true);
    const events: StreamsEvent[] = [];
    await using cache = await openCache({ dir, limit: 1 << 20, onEvent: (e) => events.push(e) });
    const recover = events.find((e) => e.name === 'cache.recover');
    expect(recover?.attrs?.reason).toMatch(/died holding the cache lock|torn/);
    expect(await cache.has('a')).toBe(true);
    expect(readFileSync(join(dir, 'journal'), 'utf8')).not.toContain('half-writ');
    expect((await cache.audit()).problems).toEqual([]);
    await using h = await cache.acquire('b', writer('bb'));
    expect(h.size).toBe(2);
  });
});
