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
  if (timeoutMs !== undefined && Number.isFinite(timeoutMs))
    list.push(AbortSignal.timeout(timeoutMs));
  if (list.length === 1) return list[0]!;
  return AbortSignal.any(list);
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
