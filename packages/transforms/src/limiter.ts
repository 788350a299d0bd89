import { availableParallelism } from 'node:os';
import { Semaphore } from '@streams/core';

/** @deprecated The semaphore that bounds sharp calls and ffmpeg children: use `Semaphore` from `@streams/core`. */
export const Limiter = Semaphore;
export type Limiter = Semaphore;

const cores = availableParallelism();

// sharp runs each pipeline on a libuv pool thread: allowing as many pipelines as that pool has
// threads keeps it busy while JS prepares the next sample.
const uvThreads = Number(process.env.UV_THREADPOOL_SIZE) || 4;

/** Bounds concurrent sharp pipelines. Default: the libuv pool size (UV_THREADPOOL_SIZE, 4), at least the core count. */
export const sharpLimiter = new Semaphore(Math.max(uvThreads, cores));
/** Bounds concurrent ffmpeg child processes. Default: the core count. */
export const ffmpegLimiter = new Semaphore(Math.max(2, cores));

/** Sets the package-wide concurrency limits for sharp pipelines and ffmpeg child processes. */
export function configureTransforms(options: {
  sharpConcurrency?: number;
  ffmpegConcurrency?: number;
}): void {
  if (options.sharpConcurrency !== undefined) sharpLimiter.setLimit(options.sharpConcurrency);
  if (options.ffmpegConcurrency !== undefined) ffmpegLimiter.setLimit(options.ffmpegConcurrency);
}
