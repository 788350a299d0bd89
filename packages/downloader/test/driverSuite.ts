import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAbortError, isStreamsError } from '@streams/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Driver } from '../src/driver.js';
import { createFetchEngine } from '../src/fetchEngine.js';

/** What a driver test file hands the shared conformance suite. */
export interface DriverSuiteContext {
  driver: Driver;
  /** A writable prefix ending in "/", unique to this run (e.g. `s3://bucket/run-1/`). */
  base: string;
}

/** Options of {@link testDriver}. */
export interface DriverSuiteOptions {
  name: string;
  /** Starts servers and returns the driver and base; called once before the suite. */
  setup: () => Promise<DriverSuiteContext>;
  /** Stops what setup started. */
  teardown?: () => Promise<void>;
  /** Driver-specific tests, run in the same describe block. */
  extraTests?: (ctx: () => DriverSuiteContext) => void;
}

/** Deterministic test bytes: `n` bytes derived from `seed`. */
export function testBytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n); // [n]
  let x = seed * 2654435761;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

async function* chunked(data: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.byteLength; i += size) yield data.subarray(i, i + size);
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return isStreamsError(err)
      ? err.code
      : isAbortError(err)
        ? 'AbortError'
        : `other: ${String(err)}`;
  }
  return 'resolved';
}

/**
 * The conformance suite every storage driver passes: stat, get, getRange, list (nested,
 * prefixes, pagination), put (bytes and streams), exists, errors, abort, and a download
 * through the fetch engine.
 */
export function testDriver(options: DriverSuiteOptions): void {
  describe(`driver conformance: ${options.name}`, () => {
    let ctx: DriverSuiteContext;
    let tmp: string;
    const big = testBytes((1 << 20) + 7, 7); // [1 MiB + 7 bytes]
    const small = testBytes(1000, 3);

    beforeAll(async () => {
      ctx = await options.setup();
      tmp = await mkdtemp(join(tmpdir(), `streams-dl-${options.name}-`));
      const d = ctx.driver;
      await d.put(`${ctx.base}big.bin`, big);
      await d.put(`${ctx.base}small.bin`, small);
      await d.put(`${ctx.base}empty.bin`, new Uint8Array(0));
      for (const name of [
        'list/a/1.txt',
        'list/a/2.txt',
        'list/b/3.txt',
        'list/c.txt',
        'list/ab.txt',
      ])
        await d.put(`${ctx.base}${name}`, new TextEncoder().encode(name));
    });
    afterAll(async () => {
      await rm(tmp, { recursive: true, force: true });
      await options.teardown?.();
    });

    it('stat reports size, etag and last-modified', async () => {
      const s = await ctx.driver.stat(`${ctx.base}big.bin`);
      expect(s.size).toBe(big.byteLength);
      expect(typeof s.etag).toBe('string');
      expect(s.etag).not.toMatch(/^"/);
      expect(s.lastModified).toBeInstanceOf(Date);
      expect(Number.isNaN(s.lastModified!.getTime())).toBe(false);
      expect((await ctx.driver.stat(`${ctx.base}empty.bin`)).size).toBe(0);
    });

    it('get streams the whole object', async () => {
      const body = await ctx.driver.get(`${ctx.base}big.bin`);
      expect(body.size).toBe(big.byteLength);
      let chunks = 0;
      const hash = createHash('sha256');
      for await (const chunk of body) {
        chunks++;
        hash.update(chunk);
      }
      expect(chunks).toBeGreaterThan(0);
      expect(hash.digest('hex')).toBe(createHash('sha256').update(big).digest('hex'));
      expect((await (await ctx.driver.get(`${ctx.base}empty.bin`)).bytes()).byteLength).toBe(0);
    });

    it('getRange returns exactly the requested bytes', async () => {
      const url = `${ctx.base}big.bin`;
      for (const [offset, length] of [
        [0, 1],
        [12345, 70000],
        [big.byteLength - 10, 10],
        [500, 0],
      ] as const) {
        const got = await (await ctx.driver.getRange(url, offset, length)).bytes();
        expect(Buffer.from(got).equals(Buffer.from(big.subarray(offset, offset + length)))).toBe(
          true,
        );
      }
      expect(
        await codeOf(ctx.driver.getRange(url, big.byteLength - 5, 10).then((b) => b.bytes())),
      ).toBe('STREAMS_INVALID_ARGUMENT');
      expect(await codeOf(ctx.driver.getRange(url, -1, 10))).toBe('STREAMS_INVALID_ARGUMENT');
    });

    it('missing objects are STREAMS_NOT_FOUND and exists() is false', async () => {
      const url = `${ctx.base}does-not-exist.bin`;
      expect(await codeOf(ctx.driver.stat(url))).toBe('STREAMS_NOT_FOUND');
      expect(await codeOf(ctx.driver.get(url).then((b) => b.bytes()))).toBe('STREAMS_NOT_FOUND');
      expect(await codeOf(ctx.driver.getRange(url, 0, 4).then((b) => b.bytes()))).toBe(
        'STREAMS_NOT_FOUND',
      );
      expect(await ctx.driver.exists(url)).toBe(false);
      expect(await ctx.driver.exists(`${ctx.base}small.bin`)).toBe(true);
    });

    it('list returns every object under a prefix, sorted, with sizes', async () => {
      const all = await ctx.driver.list(`${ctx.base}list/`);
      const names = all.map((e) => e.url.slice(ctx.base.length));
      expect(names).toEqual([
        'list/a/1.txt',
        'list/a/2.txt',
        'list/ab.txt',
        'list/b/3.txt',
        'list/c.txt',
      ]);
      expect(all.map((e) => e.size)).toEqual(names.map((n) => n.length));
      const partial = await ctx.driver.list(`${ctx.base}list/a`);
      expect(partial.map((e) => e.url.slice(ctx.base.length))).toEqual([
        'list/a/1.txt',
        'list/a/2.txt',
        'list/ab.txt',
      ]);
      expect(await ctx.driver.list(`${ctx.base}nothing-here/`)).toEqual([]);
      // The engine's list and its streaming listEach see the same objects.
      const engine = createFetchEngine({ seed: 1, driverFor: () => ctx.driver });
      const streamed: string[] = [];
      for await (const e of engine.listEach(`${ctx.base}list/`)) streamed.push(e.url);
      expect(streamed).toEqual(all.map((e) => e.url));
      expect((await engine.list(`${ctx.base}list/`)).map((e) => e.url)).toEqual(streamed);
      // Listed URLs work with the same driver.
      const first = all[0]!;
      expect(new TextDecoder().decode(await (await ctx.driver.get(first.url)).bytes())).toBe(
        'list/a/1.txt',
      );
    });

    it('put accepts a stream of chunks and overwrites', async () => {
      const url = `${ctx.base}put/streamed.bin`;
      const data = testBytes(300_000, 11);
      const s = await ctx.driver.put(url, chunked(data, 65536), { size: data.byteLength });
      expect(s.size).toBe(data.byteLength);
      expect(Buffer.from(await (await ctx.driver.get(url)).bytes()).equals(Buffer.from(data))).toBe(
        true,
      );
      await ctx.driver.put(url, small);
      expect((await ctx.driver.stat(url)).size).toBe(small.byteLength);
    });

    it('an aborted signal rejects with AbortError', async () => {
      const ac = new AbortController();
      ac.abort();
      expect(await codeOf(ctx.driver.get(`${ctx.base}big.bin`, { signal: ac.signal }))).toBe(
        'AbortError',
      );
      const ac2 = new AbortController();
      const body = await ctx.driver.get(`${ctx.base}big.bin`, { signal: ac2.signal });
      const read = (async () => {
        for await (const _ of body) ac2.abort();
      })();
      expect(await codeOf(read)).toBe('AbortError');
    });

    it('the fetch engine downloads through it with a hash check', async () => {
      const engine = createFetchEngine({ seed: 1, driverFor: () => ctx.driver });
      const dest = join(tmp, 'engine', 'big.bin');
      const sha = createHash('sha256').update(big).digest('hex');
      const r = await engine.download(`${ctx.base}big.bin`, dest, {
        hash: `sha256:${sha}`,
        size: big.byteLength,
      });
      expect(r.bytes).toBe(big.byteLength);
      expect(r.digest).toBe(sha);
      expect(Buffer.from(await readFile(dest)).equals(Buffer.from(big))).toBe(true);
      const part = await engine.read(`${ctx.base}big.bin`, { offset: 100, length: 50 });
      expect(Buffer.from(part).equals(Buffer.from(big.subarray(100, 150)))).toBe(true);
    });

    options.extraTests?.(() => ctx);
  });
}
