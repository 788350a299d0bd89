import { availableParallelism } from 'node:os';
import { signalReason, throwIfAborted } from '@streams/core';

/** A counting semaphore with abortable waits: bounds how many sharp calls or ffmpeg children run. */
export class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private limit: number) {
    if (!(limit >= 1))
      throw new RangeError(`[streams/transforms] a limit must be >= 1, got ${limit}`);
  }

  /** How many tasks run now. */
  get running(): number {
    return this.active;
  }

  /** How many tasks wait for a slot. */
  get pending(): number {
    return this.waiting.length;
  }

  /** Changes the limit; waiting tasks start when slots free up. */
  setLimit(limit: number): void {
    if (!(limit >= 1))
      throw new RangeError(`[streams/transforms] a limit must be >= 1, got ${limit}`);
    this.limit = limit;
    this.drain();
  }

  /** Runs `fn` when a slot is free; a task aborted while waiting never starts. */
  async run<T>(fn: () => Promise<T>, options: { signal?: AbortSignal } = {}): Promise<T> {
    await this.acquire(options.signal);
    try {
      return await fn();
    } finally {
      this.active--;
      this.drain();
    }
  }

  private acquire(signal: AbortSignal | undefined): Promise<void> {
    throwIfAborted(signal);
    if (this.active < this.limit) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const grant = () => {
        signal?.removeEventListener('abort', onAbort);
        this.active++;
        resolve();
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(grant);
        if (i !== -1) this.waiting.splice(i, 1);
        reject(signalReason(signal!));
      };
      this.waiting.push(grant);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private drain(): void {
    while (this.active < this.limit && this.waiting.length > 0) this.waiting.shift()!();
  }
}

const cores = availableParallelism();

// sharp runs each pipeline on a libuv pool thread: allowing as many pipelines as that pool has
// threads keeps it busy while JS prepares the next sample.
const uvThreads = Number(process.env.UV_THREADPOOL_SIZE) || 4;

/** Bounds concurrent sharp pipelines. Default: the libuv pool size (UV_THREADPOOL_SIZE, 4), at least the core count. */
export const sharpLimiter = new Limiter(Math.max(uvThreads, cores));
/** Bounds concurrent ffmpeg child processes. Default: the core count. */
export const ffmpegLimiter = new Limiter(Math.max(2, cores));

/** Sets the package-wide concurrency limits for sharp pipelines and ffmpeg child processes. */
export function configureTransforms(options: {
  sharpConcurrency?: number;
  ffmpegConcurrency?: number;
}): void {
  if (options.sharpConcurrency !== undefined) sharpLimiter.setLimit(options.sharpConcurrency);
  if (options.ffmpegConcurrency !== undefined) ffmpegLimiter.setLimit(options.ffmpegConcurrency);
}
