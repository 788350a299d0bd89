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

/** Settles like `promise`, or rejects with the signal's reason when it aborts first. */
export function raceSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signalReason(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signalReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
