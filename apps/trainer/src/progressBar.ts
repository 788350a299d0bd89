import { formatBytes } from '@streams/core';

/** A one-line progress bar on a TTY; on pipes and files only the final line is written. */
export class ProgressBar {
  readonly #err: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  readonly #label: string;
  readonly #start = Date.now();
  #last = 0;

  constructor(err: NodeJS.WritableStream, label: string) {
    this.#err = err;
    this.#label = label;
  }

  /** Redraws at most 10 times a second. */
  update(done: number, total: number | undefined, bytes: number): void {
    if (!this.#err.isTTY) return;
    const now = Date.now();
    if (now - this.#last < 100) return;
    this.#last = now;
    this.#err.write(`\r${this.#line(done, total, bytes)}\x1b[K`);
  }

  /** Writes the final line. */
  done(done: number, total: number | undefined, bytes: number): void {
    const line = this.#line(done, total, bytes);
    this.#err.write(this.#err.isTTY ? `\r${line}\x1b[K\n` : `${line}\n`);
  }

  #line(done: number, total: number | undefined, bytes: number): string {
    const secs = Math.max((Date.now() - this.#start) / 1000, 1e-3);
    const rate = `${Math.round(done / secs).toLocaleString('en-US')} samples/s`;
    const size = bytes > 0 ? `, ${formatBytes(bytes)}` : '';
    if (total === undefined || total === 0)
      return `${this.#label} ${done.toLocaleString('en-US')} samples${size} (${rate})`;
    const width = 30;
    const filled = Math.min(width, Math.round((width * done) / total));
    const pct = ((100 * done) / total).toFixed(0).padStart(3);
    return `${this.#label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${pct}% ${done.toLocaleString('en-US')}/${total.toLocaleString('en-US')}${size} (${rate})`;
  }
}
