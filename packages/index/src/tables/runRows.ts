// The rows of an index table handed out one settled promise each: an `async function*` pays
// several microtask turns per `yield`, which cost more than building the row itself.

/** Rows `[from, to)` of a loaded chunk, made one at a time by `row`. */
export interface RowRun<T> {
  row(i: number): T;
  from: number;
  to: number;
}

type Result<T> = IteratorResult<T, undefined>;

/**
 * An async generator over the rows of runs that `nextRun` loads one after another (undefined
 * when there are no more). Calls made before the previous one settled wait for it, as with an
 * `async function*`; an error ends the iteration.
 */
export class RunRows<T> implements AsyncGenerator<T, undefined> {
  #run: RowRun<T> | undefined;
  #i = 0;
  #done = false;
  #pending: Promise<Result<T>> | undefined;

  constructor(private readonly nextRun: () => Promise<RowRun<T> | undefined>) {}

  next(): Promise<Result<T>> {
    if (this.#pending) {
      const again = () => this.next();
      return this.#pending.then(again, again);
    }
    const run = this.#run;
    if (run && this.#i < run.to) {
      try {
        return Promise.resolve({ value: run.row(this.#i++), done: false });
      } catch (e) {
        this.#finish();
        return Promise.reject(e);
      }
    }
    if (this.#done) return Promise.resolve({ value: undefined, done: true });
    const p = this.#advance();
    this.#pending = p;
    const clear = () => {
      if (this.#pending === p) this.#pending = undefined;
    };
    p.then(clear, clear);
    return p;
  }

  async #advance(): Promise<Result<T>> {
    try {
      for (;;) {
        const run = await this.nextRun();
        if (!run) {
          this.#finish();
          return { value: undefined, done: true };
        }
        if (run.from < run.to) {
          this.#run = run;
          this.#i = run.from + 1;
          return { value: run.row(run.from), done: false };
        }
      }
    } catch (e) {
      this.#finish();
      throw e;
    }
  }

  #finish(): void {
    this.#done = true;
    this.#run = undefined;
  }

  async return(): Promise<Result<T>> {
    this.#finish();
    return { value: undefined, done: true };
  }

  async throw(e: unknown): Promise<Result<T>> {
    this.#finish();
    throw e;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#finish();
  }
}
