import { fileURLToPath } from 'node:url';
import { isStreamsError, rng } from '@streams/core';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { imageClassification } from './presets.js';
import { collectTransferables } from './transferables.js';
import { TransformPool } from './transformPool.js';

const TASKS = new URL('../test/poolTasks.fixture.ts', import.meta.url);

describe('TransformPool', () => {
  it('runs exported functions in workers, moving transferred buffers and results', async () => {
    await using pool = new TransformPool({ size: 2 });
    const x = new Float64Array([1, 2, 3, 4.5]);
    const r = await pool.run<{ total: number; length: number }>(TASKS, 'sum', [x], {
      transfer: [x.buffer],
    });
    expect(r).toEqual({ total: 10.5, length: 4 });
    expect(x.buffer.byteLength).toBe(0); // moved, not copied
    const big = await pool.run<Float32Array>(TASKS, 'ramp', [1 << 20]);
    expect(big).toBeInstanceOf(Float32Array);
    expect(big.length).toBe(1 << 20);
    expect(big[12345]).toBe(12345);
    expect(pool.stats).toMatchObject({ completed: 2, busy: 0, queued: 0 });
  });

  it('spreads work over workers, up to size', async () => {
    await using pool = new TransformPool({ size: 2 });
    await Promise.all([0, 1, 2, 3].map(() => pool.run(TASKS, 'spin', [20])));
    expect(pool.threads).toBe(2);
    expect(pool.stats.completed).toBe(4);
  });

  it('keeps StreamsError codes and coordinates across the thread boundary', async () => {
    await using pool = new TransformPool({ size: 1 });
    const err = await pool.run(TASKS, 'fail', []).catch((e: unknown) => e);
    expect(isStreamsError(err, 'STREAMS_DECODE_FAILED')).toBe(true);
    expect(err).toMatchObject({ shard: 2, sample: 5 });
    await expect(pool.run(TASKS, 'nope', [])).rejects.toThrow(/no exported function nope/);
  });

  it('abort of a running CPU-bound task frees its worker; a queued one never starts', async () => {
    await using pool = new TransformPool({ size: 1 });
    const running = new AbortController();
    const queued = new AbortController();
    const a = pool
      .run(TASKS, 'spin', [60_000], { signal: running.signal })
      .catch((e: unknown) => e);
    const b = pool.run(TASKS, 'spin', [60_000], { signal: queued.signal }).catch((e: unknown) => e);
    expect(pool.stats).toMatchObject({ busy: 1, queued: 1 });
    queued.abort();
    expect(((await b) as Error).name).toBe('AbortError');
    await new Promise((r) => setTimeout(r, 50));
    running.abort();
    expect(((await a) as Error).name).toBe('AbortError');
    expect(pool.stats).toMatchObject({ busy: 0, queued: 0, replaced: 1 });
    // The pool still works: a fresh worker took the place of the terminated one.
    expect(await pool.run(TASKS, 'slowAsync', [1])).toBe('done');
  });

  it('runs the imageClassification preset with output identical to the inline preset', async () => {
    await using pool = new TransformPool({ size: 2, tasksPerWorker: 2 });
    const jpg = await sharp({
      create: { width: 80, height: 60, channels: 3, background: { r: 200, g: 10, b: 90 } },
    })
      .composite([
        {
          input: { create: { width: 20, height: 20, channels: 3, background: '#00ff00' } },
          left: 5,
          top: 7,
        },
      ])
      .jpeg()
      .toBuffer();
    for (const train of [false, true]) {
      const inline = imageClassification({ size: 32, train });
      const pooled = pool.imageClassification({ size: 32, train });
      const r1 = rng(11, train ? 'train' : 'eval');
      const r2 = rng(11, train ? 'train' : 'eval');
      const a = await inline({ jpg, cls: 3 }, r1);
      const b = await pooled({ jpg, cls: 3 }, r2);
      expect(b.image.shape).toEqual([3, 32, 32]);
      expect(b.image.data).toBeInstanceOf(Float32Array);
      expect(Array.from(b.image.data)).toEqual(Array.from(a.image.data));
      expect(b.label).toBe(3);
      expect(r1.nextUint32()).toBe(r2.nextUint32()); // both paths advance the caller's rng alike
    }
    const err = await pool
      .imageClassification()({ jpg: jpg.subarray(0, 50) }, rng(0), { coords: { sample: 4 } })
      .catch((e: unknown) => e);
    expect(isStreamsError(err, 'STREAMS_DECODE_FAILED')).toBe(true);
    expect(err).toMatchObject({ sample: 4 });
  });

  it('a worker that exits or throws outside a task fails its task and is replaced', async () => {
    await using pool = new TransformPool({ size: 1 });
    await expect(pool.run(TASKS, 'exitWorker', [])).rejects.toThrow(/exited with code 3/);
    await expect(pool.run(TASKS, 'throwUncaught', [])).rejects.toThrow(/uncaught in worker/);
    expect(pool.stats.replaced).toBe(2);
    expect(await pool.run(TASKS, 'slowAsync', [1])).toBe('done');
    // A plain path works as well as a file URL.
    expect(await pool.run(fileURLToPath(TASKS), 'slowAsync', [1])).toBe('done');
  });

  it('moves only buffers a view owns whole', () => {
    const whole = new Float32Array(8);
    const part = new Uint8Array(new ArrayBuffer(16), 4, 4);
    const small = Buffer.from('tiny'); // lives in Node's shared Buffer pool
    const found = collectTransferables({ a: whole, b: [part, small], c: { d: whole } });
    expect(found).toEqual([whole.buffer]);
  });

  it('is AsyncDisposable: closing rejects pending work and stops every thread', async () => {
    const pool = new TransformPool({ size: 1 });
    const pending = pool.run(TASKS, 'spin', [60_000]).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 20));
    await pool[Symbol.asyncDispose]();
    expect(((await pending) as Error).name).toBe('AbortError');
    expect(pool.threads).toBe(0);
    await expect(pool.run(TASKS, 'sum', [new Float64Array(1)])).rejects.toThrow(/closed/);
  });
});
