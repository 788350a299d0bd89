import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { abortError, type Rng, StreamsError, signalReason, throwIfAborted } from '@streams/core';
import { decodeFailed } from './decodeGuard.js';
import type {
  DecodeCallOptions,
  DecodeImageOptions,
  ImageInput,
  ImageTensor,
} from './decodeImage.js';
import type { VideoClip } from './decodeVideo.js';
import type { VideoOutputOptions, VideoTensor } from './layoutVideo.js';
import {
  type ClipTensor,
  type ImageClassificationOptions,
  type ImageClassificationSample,
  imageClassificationFields,
  imageClassificationPipeline,
  type Preset,
  type TextToVideoOptions,
  type TextToVideoSample,
  textToVideoWith,
  type VideoClipOptions,
  type VideoClipSample,
  videoClipWith,
} from './presets.js';
import { pickImage, pickLabel } from './sampleFields.js';

/** Options of {@link TransformPool}. */
export interface TransformPoolOptions {
  /** Worker threads. Default: the core count. */
  size?: number;
  /**
   * Tasks one worker runs at once. 1 (default) suits synchronous CPU-bound JS; async tasks that
   * wait on native threads (sharp) can overlap more.
   */
  tasksPerWorker?: number;
}

/** Per-call options of {@link TransformPool.run}. */
export interface PoolRunOptions {
  signal?: AbortSignal;
  /** Buffers moved (not copied) to the worker; they are detached in the caller afterwards. */
  transfer?: ArrayBuffer[];
}

/** Counters of a pool. */
export interface PoolStats {
  size: number;
  busy: number;
  queued: number;
  completed: number;
  failed: number;
  /** Workers terminated and replaced because a running task was aborted or the worker died. */
  replaced: number;
}

interface Job {
  id: number;
  module: string;
  name: string;
  args: unknown[];
  transfer: ArrayBuffer[];
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort?: () => void;
  slot?: Slot;
}

interface Slot {
  worker: Worker;
  running: Map<number, Job>;
  ready: Promise<void>;
}

const SOURCE_MODE = import.meta.url.endsWith('.ts');
const WORKER_URL = new URL(SOURCE_MODE ? './poolWorker.ts' : './poolWorker.js', import.meta.url);
const TASKS_URL = new URL(SOURCE_MODE ? './poolTasks.ts' : './poolTasks.js', import.meta.url).href;

function spawnWorker(): Worker {
  if (!SOURCE_MODE) return new Worker(WORKER_URL);
  // Running from TypeScript sources (tests, tsx): register tsx inside the worker first.
  const code = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(WORKER_URL.href)}); });`;
  return new Worker(code, { eval: true, execArgv: ['--conditions=@streams/source'] });
}

function reviveError(e: Record<string, unknown>): Error {
  if (typeof e.code === 'string' && e.name === 'StreamsError') {
    const err = new StreamsError(e.code as never, String(e.message));
    for (const k of ['stream', 'shard', 'sample', 'url', 'fix'] as const) {
      Object.defineProperty(err, k, { value: e[k], enumerable: true });
    }
    return err;
  }
  if (e.name === 'AbortError') return abortError(String(e.message));
  const err = new Error(String(e.message));
  err.name = String(e.name);
  return err;
}

/**
 * A pool of worker threads for CPU-bound transforms. Tasks are exported functions of ES modules
 * (`run(moduleUrl, exportName, args)`); typed-array results come back transferred, not copied.
 * Aborting a queued task drops it; aborting a running task terminates its worker (JS cannot be
 * interrupted otherwise) and a fresh worker takes its place. `await using pool = new TransformPool()`.
 */
export class TransformPool implements AsyncDisposable {
  readonly size: number;
  private readonly tasksPerWorker: number;
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closed = false;
  private counters = { completed: 0, failed: 0, replaced: 0 };

  constructor(options: TransformPoolOptions = {}) {
    this.size = options.size ?? availableParallelism();
    this.tasksPerWorker = options.tasksPerWorker ?? 1;
    if (!(Number.isInteger(this.size) && this.size >= 1 && this.tasksPerWorker >= 1)) {
      throw new StreamsError(
        'STREAMS_INVALID_ARGUMENT',
        `[streams/transforms] bad pool size ${this.size} or tasksPerWorker ${this.tasksPerWorker}`,
      );
    }
  }

  /** Current counters. */
  get stats(): PoolStats {
    let busy = 0;
    for (const s of this.slots) busy += s.running.size;
    return { size: this.size, busy, queued: this.queue.length, ...this.counters };
  }

  /** Number of live worker threads (started lazily, up to `size`). */
  get threads(): number {
    return this.slots.length;
  }

  /** Runs `module#name(...args)` in a worker. `module` is a file URL (or path) of an ES module. */
  run<T>(
    module: string | URL,
    name: string,
    args: unknown[],
    options: PoolRunOptions = {},
  ): Promise<T> {
    if (this.closed)
      return Promise.reject(
        new StreamsError('STREAMS_INVALID_ARGUMENT', '[streams/transforms] the pool is closed'),
      );
    try {
      throwIfAborted(options.signal);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<T>((resolve, reject) => {
      const job: Job = {
        id: this.nextId++,
        module:
          typeof module === 'string' && !module.includes('://')
            ? pathToFileURL(module).href
            : String(module),
        name,
        args,
        transfer: options.transfer ?? [],
        resolve: resolve as (v: unknown) => void,
        reject,
        signal: options.signal,
      };
      if (options.signal) {
        job.onAbort = () => this.abortJob(job);
        options.signal.addEventListener('abort', job.onAbort, { once: true });
      }
      this.queue.push(job);
      this.pump();
    });
  }

  /** Decodes an image in a worker: same result as {@link decodeImage} with the same rng state. */
  async decodeImage(
    bytes: ImageInput,
    options: DecodeImageOptions,
    rng: Rng,
    call: DecodeCallOptions = {},
  ): Promise<ImageTensor> {
    const state = rng.getState();
    try {
      return await this.run<ImageTensor>(TASKS_URL, 'image', [bytes, options, state], {
        signal: call.signal,
      });
    } catch (err) {
      throw decodeFailed('cannot decode image', err, call.coords);
    }
  }

  /** The {@link imageClassification} preset with decoding in this pool's workers (identical output). */
  imageClassification(options: ImageClassificationOptions = {}): Preset<ImageClassificationSample> {
    const pipeline = imageClassificationPipeline(options);
    const { imageFields, labelFields, sniffImage } = imageClassificationFields(options);
    return async (sample, rng, call = {}) => {
      const bytes = pickImage(sample, imageFields, { sniff: sniffImage });
      const image = await this.decodeImage(bytes, pipeline, rng.fork('image'), call);
      return { image, label: pickLabel(sample, labelFields) };
    };
  }

  /**
   * Lays out a decoded `[T, H, W, C]` clip (dtype, layout, mean/std) in a worker. The clip's buffer
   * is moved to the worker and the result moved back: no copy of the frames on either side.
   */
  async layoutVideo(
    clip: VideoClip,
    output: VideoOutputOptions,
    call: { signal?: AbortSignal } = {},
  ): Promise<ClipTensor> {
    let data = clip.data;
    if (
      data.byteOffset !== 0 ||
      data.byteLength !== data.buffer.byteLength ||
      !(data.buffer instanceof ArrayBuffer)
    ) {
      data = data.slice(); // a view into a larger or shared buffer: move a copy, never the owner's memory
    }
    const laid = await this.run<VideoTensor>(TASKS_URL, 'video', [data, clip.shape, output], {
      signal: call.signal,
      transfer: [data.buffer as ArrayBuffer],
    });
    return {
      ...laid,
      fps: clip.fps,
      offset: clip.offset,
      decodedFrames: clip.decodedFrames,
      ...(clip.bytesRead === undefined ? {} : { bytesRead: clip.bytesRead }),
    };
  }

  /** The {@link videoClip} preset with the clip layout (float conversion, CTHW...) in this pool's workers. */
  videoClip(options: VideoClipOptions): Preset<VideoClipSample> {
    return videoClipWith(options, (clip, output) => this.layoutVideo(clip, output));
  }

  /** The {@link textToVideo} preset with the clip layout in this pool's workers. */
  textToVideo(options: TextToVideoOptions): Preset<TextToVideoSample> {
    return textToVideoWith(options, (clip, output) => this.layoutVideo(clip, output));
  }

  /** Stops every worker; queued and running tasks reject with an AbortError. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const reason = abortError('[streams/transforms] the pool was closed');
    for (const job of this.queue.splice(0)) this.settle(job, () => job.reject(reason));
    const slots = this.slots.splice(0);
    for (const slot of slots)
      for (const job of slot.running.values()) this.settle(job, () => job.reject(reason));
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private settle(job: Job, fn: () => void): void {
    if (job.onAbort) job.signal?.removeEventListener('abort', job.onAbort);
    const slot = job.slot;
    if (slot) {
      slot.running.delete(job.id);
      // Keep the process alive only while a worker has work.
      if (slot.running.size === 0) slot.worker.unref();
    }
    job.slot = undefined;
    fn();
  }

  private abortJob(job: Job): void {
    const reason = signalReason(job.signal!);
    const queued = this.queue.indexOf(job);
    if (queued !== -1) {
      this.queue.splice(queued, 1);
      this.settle(job, () => job.reject(reason));
      return;
    }
    const slot = job.slot;
    if (!slot) return;
    // A running task cannot be interrupted: end its worker, fail its other tasks, start afresh.
    this.retire(slot, reason, job);
  }

  private retire(slot: Slot, reason: unknown, cause?: Job): void {
    const i = this.slots.indexOf(slot);
    if (i === -1) return;
    this.slots.splice(i, 1);
    this.counters.replaced++;
    for (const job of [...slot.running.values()]) {
      if (job === cause) this.settle(job, () => job.reject(reason));
      else {
        // Innocent bystanders go back to the queue front.
        slot.running.delete(job.id);
        job.slot = undefined;
        this.queue.unshift(job);
      }
    }
    void slot.worker.terminate();
    this.pump();
  }

  private startSlot(): Slot {
    const worker = spawnWorker();
    const slot: Slot = { worker, running: new Map(), ready: Promise.resolve() };
    worker.on(
      'message',
      (msg: { id: number; ok: boolean; value?: unknown; error?: Record<string, unknown> }) => {
        const job = slot.running.get(msg.id);
        if (!job) return;
        if (msg.ok) {
          this.counters.completed++;
          this.settle(job, () => job.resolve(msg.value));
        } else {
          this.counters.failed++;
          this.settle(job, () => job.reject(reviveError(msg.error ?? {})));
        }
        this.pump();
      },
    );
    worker.on('error', (err) => {
      // The worker died (uncaught error in a task): fail its tasks, replace it.
      const jobs = [...slot.running.values()];
      const i = this.slots.indexOf(slot);
      if (i !== -1) this.slots.splice(i, 1);
      this.counters.replaced++;
      for (const job of jobs) this.settle(job, () => job.reject(err));
      this.pump();
    });
    worker.on('exit', (code) => {
      // A worker that exits on its own (process.exit in a task) fails its tasks; retired and
      // closed workers are already out of `slots`.
      const i = this.slots.indexOf(slot);
      if (i === -1) return;
      this.slots.splice(i, 1);
      this.counters.replaced++;
      const err = new StreamsError(
        'STREAMS_INTERNAL',
        `[streams/transforms] a pool worker exited with code ${code} while running a task`,
        {
          fix: 'do not call process.exit in pool tasks',
        },
      );
      for (const job of [...slot.running.values()]) this.settle(job, () => job.reject(err));
      this.pump();
    });
    worker.unref(); // an idle pool never keeps the process alive
    this.slots.push(slot);
    return slot;
  }

  private pump(): void {
    if (this.closed) return;
    while (this.queue.length > 0) {
      let slot = this.slots.find((s) => s.running.size === 0);
      if (!slot && this.slots.length < this.size) slot = this.startSlot();
      slot ??= this.slots
        .filter((s) => s.running.size < this.tasksPerWorker)
        .sort((a, b) => a.running.size - b.running.size)[0];
      if (!slot) return;
      const job = this.queue.shift()!;
      job.slot = slot;
      slot.running.set(job.id, job);
      slot.worker.ref();
      try {
        slot.worker.postMessage(
          { id: job.id, module: job.module, name: job.name, args: job.args },
          job.transfer,
        );
      } catch (err) {
        this.settle(job, () => job.reject(err));
      }
    }
  }
}
