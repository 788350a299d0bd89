// Task module for the TransformPool tests (imported inside worker threads).
import { StreamsError } from '@streams/core';

/** Sums a Float64Array and reports whether it arrived as its own (transferred) buffer. */
export function sum(x: Float64Array): { total: number; length: number } {
  let total = 0;
  for (const v of x) total += v;
  return { total, length: x.length };
}

/** Returns a large new array: it comes back transferred. */
export function ramp(n: number): Float32Array {
  const out = new Float32Array(n); // [n]
  for (let i = 0; i < n; i++) out[i] = i;
  return out;
}

/** Busy-waits (CPU-bound, uninterruptible): only terminating the worker stops it. */
export function spin(ms: number): number {
  const end = Date.now() + ms;
  let n = 0;
  while (Date.now() < end) n++;
  return n;
}

export function fail(): never {
  throw new StreamsError('STREAMS_DECODE_FAILED', '[streams/test] bad sample', {
    shard: 2,
    sample: 5,
  });
}

export async function slowAsync(ms: number): Promise<string> {
  await new Promise((r) => setTimeout(r, ms));
  return 'done';
}

/** Ends the worker thread abruptly. */
export function exitWorker(): void {
  process.exit(3);
}

/** Throws asynchronously, outside the task's promise: an uncaught error in the worker. */
export function throwUncaught(): Promise<never> {
  setTimeout(() => {
    throw new Error('uncaught in worker');
  }, 1);
  return new Promise(() => {});
}
