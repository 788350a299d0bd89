import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  abortError,
  combineSignals,
  isAbortError,
  raceSignal,
  sleep,
  throwIfAborted,
} from './abort.js';
import { makeDisposable } from './disposable.js';

describe('abort helpers', () => {
  it('abortError is a DOMException named AbortError', () => {
    const e = abortError();
    expect(e).toBeInstanceOf(DOMException);
    expect(e.name).toBe('AbortError');
    expect(isAbortError(e)).toBe(true);
    expect(isAbortError(new Error('x'))).toBe(false);
    expect(isAbortError(null)).toBe(false);
  });

  it('throwIfAborted throws the reason, or an AbortError', () => {
    const c = new AbortController();
    expect(() => throwIfAborted(c.signal)).not.toThrow();
    expect(() => throwIfAborted(undefined)).not.toThrow();
    c.abort();
    expect(() => throwIfAborted(c.signal)).toThrow(expect.objectContaining({ name: 'AbortError' }));
    const d = new AbortController();
    d.abort(new Error('custom'));
    expect(() => throwIfAborted(d.signal)).toThrow('custom');
  });

  it('sleep rejects promptly on abort', async () => {
    const c = new AbortController();
    const started = Date.now();
    const p = sleep(10_000, { signal: c.signal });
    setTimeout(() => c.abort(), 10);
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('combineSignals aborts on the first signal or on timeout', async () => {
    const a = new AbortController();
    const b = new AbortController();
    const s = combineSignals([a.signal, undefined, b.signal]);
    expect(s.aborted).toBe(false);
    b.abort();
    expect(s.aborted).toBe(true);
    const t = combineSignals([new AbortController().signal], 20);
    await expect(sleep(5_000, { signal: t })).rejects.toMatchObject({ name: 'TimeoutError' });
  });

  it('combineSignals with a timeout still aborts after full garbage collections', () => {
    const child = fileURLToPath(new URL('../test/timeoutAfterGc.ts', import.meta.url));
    const out = execFileSync(
      process.execPath,
      ['--expose-gc', '--conditions=@streams/source', '--import', 'tsx', child],
      { encoding: 'utf8', timeout: 30_000 },
    );
    expect(JSON.parse(out)).toEqual({ aborted: true, reason: 'TimeoutError' });
  }, 40_000);

  it('raceSignal settles with the promise or rejects on abort', async () => {
    await expect(raceSignal(Promise.resolve(3), new AbortController().signal)).resolves.toBe(3);
    const c = new AbortController();
    const p = raceSignal(new Promise(() => {}), c.signal);
    c.abort();
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
  });
});

describe('makeDisposable', () => {
  it('runs dispose exactly once, also with await using', async () => {
    let calls = 0;
    {
      await using res = makeDisposable({ value: 1 }, async () => {
        calls++;
      });
      expect(res.value).toBe(1);
      await Promise.all([res.dispose(), res.dispose()]);
    }
    expect(calls).toBe(1);
  });
});
