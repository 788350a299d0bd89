import { signalReason } from '@streams/core';
import type { DirLock } from './dirLock.js';

interface Task {
  signal: AbortSignal | undefined;
  run: () => void;
  fail: (err: unknown) => void;
}

/** What a lock session does around its steps. */
export interface SessionHooks {
  /** First thing under the lock: read what others appended, write deferred records. */
  begin(): void;
  /** Last thing under the lock (e.g. compact the journal). */
  end(): void;
  /** A step queued without a waiter failed. */
  warn(err: unknown): void;
}

/**
 * Runs synchronous steps under the cache lock. Calls queue up and one lock session runs every
 * queued step, so concurrent operations of this process (and deferred records) share one lock
 * cycle. Uncontended, a session runs synchronously inside the call; contended, waiting polls the
 * lock (see `DirLock.pause`) and stays abortable per step.
 */
export class LockSessions {
  private readonly tasks: Task[] = [];
  private draining = false;
  private inSession = false;
  private scheduled = false;

  constructor(
    private readonly lock: DirLock,
    private readonly hooks: SessionHooks,
  ) {}

  /** Runs `fn` under the lock, after the session's `begin`; resolves to its result. */
  run<T>(signal: AbortSignal | undefined, fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.tasks.push({
        signal,
        fail: reject,
        run: () => {
          try {
            resolve(fn());
          } catch (err) {
            reject(err);
          }
        },
      });
      this.drain();
    });
  }

  /** Asks for a session within one event-loop turn, without waiting for it. */
  schedule(): void {
    this.tasks.push({ signal: undefined, run: () => {}, fail: (err) => this.hooks.warn(err) });
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.drain();
    });
  }

  /** Runs the queued steps now if the lock is free, else starts waiting for it. */
  drain(): void {
    // In a session (an event listener calling the cache), the session's loop runs new tasks.
    if (this.draining || this.inSession || this.tasks.length === 0) return;
    if (this.lock.tryAcquire()) {
      this.runSession();
      return;
    }
    this.draining = true;
    void this.waitAndDrain();
  }

  private async waitAndDrain(): Promise<void> {
    const started = performance.now();
    try {
      for (let attempt = 0; ; attempt++) {
        for (const task of this.tasks.filter((t) => t.signal?.aborted)) {
          this.tasks.splice(this.tasks.indexOf(task), 1);
          task.fail(signalReason(task.signal!));
        }
        if (this.tasks.length === 0) return;
        if (this.lock.tryAcquire()) {
          this.runSession();
          if (this.tasks.length === 0) return;
        }
        await this.lock.pause(started, attempt);
      }
    } catch (err) {
      for (const task of this.tasks.splice(0)) task.fail(err);
    } finally {
      this.draining = false;
    }
  }

  /** One lock session: the lock is held on entry and released on exit. */
  private runSession(): void {
    this.inSession = true;
    try {
      this.hooks.begin();
      // Steps may queue more steps (an event listener calling the cache): they run here too.
      while (this.tasks.length > 0) {
        const task = this.tasks.shift()!;
        if (task.signal?.aborted) task.fail(signalReason(task.signal));
        else task.run();
      }
      this.hooks.end();
    } catch (err) {
      for (const task of this.tasks.splice(0)) task.fail(err);
    } finally {
      this.inSession = false;
      this.lock.release();
    }
  }
}
