// The trainer's data path in a worker thread. TensorFlow.js dispatches (and on the native backend
// runs) every op on the thread that trains, so decoding samples and packing batches there adds to
// every step; in a worker they overlap with training. The worker builds the same experiences from
// the same resolved sources, reads a few batches ahead and sends each one (its buffers moved, not
// copied) with the data's state after it, so checkpoints record exactly the batches trained on.
import { Worker } from 'node:worker_threads';
import type { Batch } from '@streams/cl';
import { abortError, StreamsError, type StreamsErrorCode, throwIfAborted } from '@streams/core';
import type {
  DataFigures,
  DataPlan,
  DataPosition,
  Experience,
  ExperienceData,
} from './experiences.js';
import type { RunConfig } from './runConfig.js';
import type { StreamSource } from './sources.js';

/** Messages to the worker. */
export type ToWorker =
  | { type: 'init'; config: unknown; sources: unknown }
  | { type: 'open'; id: number; experience: number }
  | { type: 'rewind'; id: number; saved: DataPosition | undefined }
  | { type: 'pass'; id: number; ahead: number }
  | { type: 'more'; id: number }
  | { type: 'close'; id: number };

/** What the main thread knows of an experience's data: its state after the last batch it took. */
interface Snapshot {
  passes: number;
  stepsPerPass: number;
  position: DataPosition;
  figures: DataFigures;
  targets: number[];
  signals: number[] | undefined;
}

/** Messages from the worker. */
type FromWorker =
  | { type: 'state'; id: number; state: Snapshot }
  | { type: 'batch'; id: number; batch: Batch; state: Snapshot }
  | { type: 'end'; id: number; state: Snapshot }
  | { type: 'closed'; id: number }
  | { type: 'error'; id: number; error: Record<string, unknown> };

/** Batches the worker reads ahead of the training loop. */
const AHEAD = 3;

const SOURCE_MODE = import.meta.url.endsWith('.ts');
const WORKER_URL = new URL(
  SOURCE_MODE ? './experienceWorker.ts' : './experienceWorker.js',
  import.meta.url,
);

function spawn(): Worker {
  if (!SOURCE_MODE) return new Worker(WORKER_URL);
  // Running from TypeScript sources (tests, tsx): register tsx inside the worker first.
  const code = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(WORKER_URL.href)}); });`;
  return new Worker(code, { eval: true, execArgv: ['--conditions=@streams/source'] });
}

function revive(e: Record<string, unknown>): Error {
  if (e.name === 'StreamsError' && typeof e.code === 'string') {
    // The message already holds the coordinates and the fix; the fields come back as they were.
    const err = new StreamsError(e.code as StreamsErrorCode, String(e.message));
    for (const k of ['stream', 'shard', 'sample', 'url', 'fix'] as const)
      Object.defineProperty(err, k, { value: e[k], enumerable: true });
    return err;
  }
  if (e.name === 'AbortError') return abortError(String(e.message));
  return Object.assign(new Error(String(e.message)), { name: String(e.name) });
}

/** A worker that serves the experiences of a plan; `plan.experiences` are replaced by proxies. */
export class ExperienceWorker implements AsyncDisposable {
  readonly #worker: Worker;
  readonly #inbox = new Map<number, FromWorker[]>();
  readonly #waiting = new Map<number, () => void>();
  #failure: Error | undefined;
  #next = 0;

  private constructor(config: RunConfig, sources: StreamSource[]) {
    this.#worker = spawn();
    this.#worker.on('message', (m: FromWorker) => {
      (this.#inbox.get(m.id) ?? this.#inbox.set(m.id, []).get(m.id)!).push(m);
      this.#waiting.get(m.id)?.();
    });
    const die = (e: Error) => {
      this.#failure ??= new StreamsError(
        'STREAMS_INTERNAL',
        `[streams/trainer] the data worker stopped: ${e.message}`,
        { cause: e, fix: 'rerun with --verbose and report it' },
      );
      for (const wake of this.#waiting.values()) wake();
    };
    this.#worker.on('error', die);
    this.#worker.on('exit', (code) => die(new Error(`exit code ${code}`)));
    this.#post({ type: 'init', config, sources });
  }

  /** The plan with its experiences read by a worker thread (evaluation sets stay as they are). */
  static offload(
    plan: DataPlan,
    config: RunConfig,
    sources: StreamSource[],
  ): {
    plan: DataPlan;
    worker: ExperienceWorker;
  } {
    const worker = new ExperienceWorker(config, sources);
    const experiences = plan.experiences.map(
      (e): Experience => ({ ...e, open: (signal) => worker.#open(e.index, signal) }),
    );
    return { plan: { ...plan, experiences }, worker };
  }

  #post(m: ToWorker): void {
    if (this.#failure) throw this.#failure;
    this.#worker.postMessage(m);
  }

  /** The next message for `id`. */
  async #receive(id: number, signal?: AbortSignal): Promise<FromWorker> {
    for (;;) {
      throwIfAborted(signal);
      const m = this.#inbox.get(id)?.shift();
      if (m) {
        if (m.type === 'error') throw revive(m.error);
        return m;
      }
      if (this.#failure) throw this.#failure;
      await new Promise<void>((resolve) => {
        const onAbort = () => resolve();
        signal?.addEventListener('abort', onAbort, { once: true });
        this.#waiting.set(id, () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        });
      });
      this.#waiting.delete(id);
    }
  }

  async #request(m: ToWorker & { id: number }, signal?: AbortSignal): Promise<FromWorker> {
    this.#post(m);
    return this.#receive(m.id, signal);
  }

  async #open(experience: number, signal?: AbortSignal): Promise<ExperienceData> {
    const id = this.#next++;
    const first = await this.#request({ type: 'open', id, experience }, signal);
    let state = (first as { state: Snapshot }).state;
    const self = this;
    return {
      get passes() {
        return state.passes;
      },
      get stepsPerPass() {
        return state.stepsPerPass;
      },
      async rewind(saved) {
        state = ((await self.#request({ type: 'rewind', id, saved })) as { state: Snapshot }).state;
      },
      position: () => state.position,
      figures: () => state.figures,
      targets: () => state.targets,
      signals: () => state.signals,
      async *pass(signal) {
        self.#post({ type: 'pass', id, ahead: AHEAD });
        for (;;) {
          const m = await self.#receive(id, signal);
          if (m.type === 'end') {
            state = m.state;
            return;
          }
          if (m.type !== 'batch') continue;
          state = m.state;
          self.#post({ type: 'more', id });
          yield m.batch;
        }
      },
      async [Symbol.asyncDispose]() {
        if (self.#failure) return;
        self.#post({ type: 'close', id });
        // Batches read ahead and not taken are dropped with the experience.
        while ((await self.#receive(id)).type !== 'closed');
        self.#inbox.delete(id);
      },
    };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#failure ??= new StreamsError(
      'STREAMS_INTERNAL',
      '[streams/trainer] the data worker was closed',
    );
    await this.#worker.terminate();
  }
}
