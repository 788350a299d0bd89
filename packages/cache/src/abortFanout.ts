import { signalReason } from '@streams/core';

interface Waiters {
  callbacks: Set<(signal: AbortSignal) => void>;
  listener: () => void;
}

/**
 * One `abort` listener per signal, shared by every waiter on it. A listener each on a long-lived
 * signal (the cache's close, a dataset's) costs time in proportion to the listeners already there
 * on every add and remove (an EventTarget looks for a duplicate first), and hundreds of fills in
 * flight made that quadratic.
 */
class AbortFanout {
  readonly #bySignal = new Map<AbortSignal, Waiters>();

  /** Calls `onAbort` once when `signal` (not aborted yet) aborts; returns its removal. */
  add(signal: AbortSignal, onAbort: (signal: AbortSignal) => void): () => void {
    let w = this.#bySignal.get(signal);
    if (w === undefined) {
      const callbacks = new Set<(signal: AbortSignal) => void>();
      const listener = () => {
        this.#bySignal.delete(signal);
        for (const f of callbacks) f(signal);
      };
      w = { callbacks, listener };
      this.#bySignal.set(signal, w);
      signal.addEventListener('abort', listener, { once: true });
    }
    const waiters = w;
    waiters.callbacks.add(onAbort);
    return () => {
      if (!waiters.callbacks.delete(onAbort) || waiters.callbacks.size > 0) return;
      // The last waiter went: nothing of ours stays on a signal that may live on.
      if (this.#bySignal.get(signal) === waiters) {
        this.#bySignal.delete(signal);
        signal.removeEventListener('abort', waiters.listener);
      }
    };
  }

  /** Settles like `promise`, or rejects with the signal's reason when it aborts first. */
  race<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    if (!signal) return promise;
    if (signal.aborted) return Promise.reject(signalReason(signal));
    return new Promise<T>((resolve, reject) => {
      const remove = this.add(signal, (s) => reject(signalReason(s)));
      promise.then(
        (v) => {
          remove();
          resolve(v);
        },
        (e: unknown) => {
          remove();
          reject(e);
        },
      );
    });
  }

  /** Signals with waiters now (for tests: none once every waiter is done). */
  get signals(): number {
    return this.#bySignal.size;
  }
}

/** The process's one fan-out: signals are shared across cache instances. */
export const abortFanout = new AbortFanout();
