import { execFileSync } from 'node:child_process';
import { getEventListeners } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  abortError,
  combineSignals,
  isAbortError,
  raceSignal,
  sleep,
  throwIfAborted,
  whenAborted,
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

  it('raceSignal: 1,000 calls in flight on one signal hold one listener; all reject with its reason; finished ones leave none', async () => {
    const c = new AbortController();
    const pending = Array.from({ length: 1000 }, () =>
      raceSignal(new Promise<never>(() => {}), c.signal),
    );
    // Finished calls (resolved and rejected) among them take their part of the listener away.
    const finished = await Promise.allSettled(
      Array.from({ length: 1000 }, (_, i) =>
        raceSignal(i % 2 ? Promise.resolve(i) : Promise.reject(new Error(`e${i}`)), c.signal),
      ),
    );
    expect(finished.filter((s) => s.status === 'fulfilled')).toHaveLength(500);
    expect(getEventListeners(c.signal, 'abort').length).toBeLessThanOrEqual(1);
    const reason = new Error('stop');
    c.abort(reason);
    const settled = await Promise.allSettled(pending);
    expect(settled.every((s) => s.status === 'rejected' && s.reason === reason)).toBe(true);
    expect(getEventListeners(c.signal, 'abort')).toHaveLength(0);

    // Calls that all finish leave no listener on a signal that lives on.
    const d = new AbortController();
    const got = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => raceSignal(Promise.resolve(i), d.signal)),
    );
    expect(got[999]).toBe(999);
    expect(getEventListeners(d.signal, 'abort')).toHaveLength(0);
  });

  it('whenAborted calls each callback once, also when one throws or the signal had aborted', async () => {
    const c = new AbortController();
    const calls: number[] = [];
    const removes = [0, 1, 2, 3].map((i) =>
      whenAborted(c.signal, () => {
        calls.push(i);
        if (i === 1) throw new Error('callback failed');
      }),
    );
    removes[3]?.();
    expect(getEventListeners(c.signal, 'abort')).toHaveLength(1);
    const errors: unknown[] = [];
    const onError = (e: unknown) => errors.push(e);
    process.on('uncaughtException', onError);
    try {
      c.abort();
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('uncaughtException', onError);
    }
    expect(calls).toEqual([0, 1, 2]);
    expect(errors).toEqual([expect.objectContaining({ message: 'callback failed' })]);
    // Already aborted: called on a microtask, unless removed first.
    const late: string[] = [];
    whenAborted(c.signal, () => late.push('kept'));
    whenAborted(c.signal, () => late.push('removed'))();
    await Promise.resolve();
    expect(late).toEqual(['kept']);
  });

  it('whenAborted leaves no listener once its last callback is removed or has run', async () => {
    const c = new AbortController();
    const calls: number[] = [];
    const removes = Array.from({ length: 100 }, (_, i) =>
      whenAborted(c.signal, () => calls.push(i)),
    );
    expect(getEventListeners(c.signal, 'abort')).toHaveLength(1);
    for (const remove of removes.slice(0, 50)) remove();
    c.abort(new Error('stop'));
    expect(calls).toEqual(Array.from({ length: 50 }, (_, i) => 50 + i));
    for (const remove of removes) remove(); // after the abort: harmless
    expect(getEventListeners(c.signal, 'abort')).toHaveLength(0);
    const other = new AbortController();
    whenAborted(other.signal, () => undefined)();
    expect(getEventListeners(other.signal, 'abort')).toHaveLength(0);
    const late = raceSignal(new Promise<number>(() => undefined), other.signal);
    expect(getEventListeners(other.signal, 'abort')).toHaveLength(1);
    other.abort(new Error('late'));
    await expect(late).rejects.toThrow('late');
    await expect(raceSignal(Promise.resolve(7), other.signal)).rejects.toThrow('late');
    expect(getEventListeners(other.signal, 'abort')).toHaveLength(0);
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
