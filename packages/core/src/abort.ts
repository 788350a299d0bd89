/** A `DOMException` named `AbortError`, the error every streams operation rejects with on abort. */
export function abortError(message = 'The operation was aborted'): DOMException {
  return new DOMException(message, 'AbortError');
}

/** True for abort errors of any origin (DOMException, Node's AbortError, undici), detected by name. */
export function isAbortError(err: unknown): boolean {
  return (
    typeof err === 'object' &&
    err !== null &&
    'name' in err &&
    (err as { name: unknown }).name === 'AbortError'
  );
}

/** Throws the signal's reason (an AbortError by default) when it is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signalReason(signal);
}

/** The error an aborted signal stands for: its reason when it is an Error, else an AbortError. */
export function signalReason(signal: AbortSignal): unknown {
  const reason: unknown = signal.reason;
  return reason instanceof Error || reason instanceof DOMException ? reason : abortError();
}

/**
 * A signal that aborts when any of `signals` aborts or after `timeoutMs` (with a `TimeoutError`
 * DOMException). Undefined entries are ignored; `timeoutMs` of undefined or Infinity means no timeout.
 */
export function combineSignals(
  signals: ReadonlyArray<AbortSignal | undefined>,
  timeoutMs?: number,
): AbortSignal {
  const list = signals.filter((s): s is AbortSignal => s !== undefined);
  if (timeoutMs !== undefined && Number.isFinite(timeoutMs)) list.push(timeoutSignal(timeoutMs));
  if (list.length === 1) return list[0]!;
  return AbortSignal.any(list);
}

/**
 * A signal that aborts with a `TimeoutError` after `ms`. Not `AbortSignal.timeout()`: only its
 * timer refers to that signal, weakly, and `AbortSignal.any()` holds its sources weakly too, so a
 * collection can take the timeout signal before it fires and the combined signal then never aborts
 * (seen in CI: a 20 ms timeout that never came). Here the pending timer holds the controller; like
 * `AbortSignal.timeout()`, the timer does not keep the process alive.
 */
function timeoutSignal(ms: number): AbortSignal {
  const ctl = new AbortController();
  const timer = setTimeout(
    () => ctl.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')),
    ms,
  );
  (timer as { unref?: () => void }).unref?.();
  return ctl.signal;
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, options: { signal?: AbortSignal } = {}): Promise<void> {
  const { signal } = options;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signalReason(signal));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signalReason(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The callbacks waiting on one signal, behind its one `abort` listener. */
interface Waiters {
  callbacks: Set<(signal: AbortSignal) => void>;
  listener: () => void;
}

/** Waiters by signal; weak, so a signal dropped with waiters still pending takes them along. */
const waiting = new WeakMap<AbortSignal, Waiters>();

/**
 * Calls `callback` once when `signal` aborts (on a microtask when it already has); returns its
 * removal. Every callback on one signal shares one `abort` listener: a listener each on a
 * long-lived signal (a cache's close, a dataset's) costs time in proportion to the listeners
 * already there on every add and remove (an EventTarget looks for a duplicate first), which made
 * hundreds of waiters in flight quadratic.
 */
export function whenAborted(
  signal: AbortSignal,
  callback: (signal: AbortSignal) => void,
): () => void {
  if (signal.aborted) {
    let removed = false;
    queueMicrotask(() => {
      if (!removed) callback(signal);
    });
    return () => {
      removed = true;
    };
  }
  let w = waiting.get(signal);
  if (w === undefined) {
    const callbacks = new Set<(signal: AbortSignal) => void>();
    const listener = () => {
      waiting.delete(signal);
      // Every callback runs, whatever one of them throws; the first error is the listener's.
      let failed: { error: unknown } | undefined;
      for (const f of callbacks) {
        try {
          f(signal);
        } catch (error) {
          failed ??= { error };
        }
      }
      if (failed) throw failed.error;
    };
    w = { callbacks, listener };
    waiting.set(signal, w);
    signal.addEventListener('abort', listener, { once: true });
  }
  const waiters = w;
  waiters.callbacks.add(callback);
  return () => {
    if (!waiters.callbacks.delete(callback) || waiters.callbacks.size > 0) return;
    // The last waiter went: nothing of ours stays on a signal that may live on.
    if (waiting.get(signal) === waiters) {
      waiting.delete(signal);
      signal.removeEventListener('abort', waiters.listener);
    }
  };
}

/**
 * Settles like `promise`, or rejects with the signal's reason when it aborts first. Calls in
 * flight on one signal share one `abort` listener on it (see {@link whenAborted}).
 */
export function raceSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signalReason(signal));
  return new Promise<T>((resolve, reject) => {
    const remove = whenAborted(signal, (s) => reject(signalReason(s)));
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
