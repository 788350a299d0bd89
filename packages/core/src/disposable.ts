/** A value of type T that is released by `await using` or an explicit `dispose()`. */
export type Disposable<T extends object> = T & AsyncDisposable & { dispose(): Promise<void> };

/**
 * Makes `value` an `AsyncDisposable`: `dispose` runs once, however often it is called, and
 * concurrent callers share the same promise.
 */
export function makeDisposable<T extends object>(
  value: T,
  dispose: () => void | Promise<void>,
): Disposable<T> {
  let done: Promise<void> | undefined;
  const run = (): Promise<void> => {
    done ??= Promise.resolve().then(dispose);
    return done;
  };
  return Object.assign(value, { dispose: run, [Symbol.asyncDispose]: run });
}
