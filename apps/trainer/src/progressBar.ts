import { formatBytes } from '@streams/core';
import cliProgress from 'cli-progress';
import type { FlagSpec } from './commands.js';

/** Options of {@link ProgressBar}. */
export interface ProgressBarOptions {
  /** No output at all (`--quiet`). */
  quiet?: boolean;
  /** Off a TTY: a plain line at most this often (default 2000 ms), and one at the end. */
  intervalMs?: number;
  /** What is counted (default `samples`). */
  unit?: string;
}

/** The `--quiet` flag every data command takes. */
export const QUIET_FLAG = {
  quiet: { type: 'boolean', short: 'q', description: 'no progress on stderr' },
} satisfies Record<string, FlagSpec>;

type ErrStream = NodeJS.WritableStream & { isTTY?: boolean };

/**
 * Progress of a data command on stderr: a live bar (cli-progress) on a TTY; on pipes and files a
 * plain line every `intervalMs` and a final one; nothing when quiet. stdout is left to the data.
 */
export class ProgressBar {
  readonly #err: ErrStream;
  readonly #label: string;
  readonly #unit: string;
  readonly #quiet: boolean;
  readonly #intervalMs: number;
  readonly #start = Date.now();
  #bar: cliProgress.SingleBar | undefined;
  #last: number;
  #bytes = 0;
  #ended = false;

  constructor(err: NodeJS.WritableStream, label: string, options: ProgressBarOptions = {}) {
    this.#err = err as ErrStream;
    this.#label = label;
    this.#unit = options.unit ?? 'samples';
    this.#quiet = options.quiet === true;
    this.#intervalMs = options.intervalMs ?? 2000;
    this.#last = this.#start;
  }

  /** Reports `done` of `total` (undefined when unknown) and the bytes so far. */
  update(done: number, total: number | undefined, bytes: number): void {
    if (this.#quiet || this.#ended) return;
    this.#bytes = bytes;
    if (this.#err.isTTY) {
      this.#tty(total).update(done, { total });
      return;
    }
    const now = Date.now();
    if (now - this.#last < this.#intervalMs) return;
    this.#last = now;
    this.#err.write(`${this.#line(done, total, bytes)}\n`);
  }

  /** Writes the final line. */
  done(done: number, total: number | undefined, bytes: number): void {
    if (this.#quiet || this.#ended) return;
    this.#bytes = bytes;
    if (this.#err.isTTY) {
      const bar = this.#tty(total);
      bar.update(done, { total });
      bar.stop();
    } else this.#err.write(`${this.#line(done, total, bytes)}\n`);
    this.#ended = true;
  }

  /** Ends without a final line (the reader went away: `streams cat | head`). */
  stop(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#bar?.stop();
  }

  #tty(total: number | undefined): cliProgress.SingleBar {
    if (!this.#bar) {
      this.#bar = new cliProgress.SingleBar({
        stream: this.#err as NodeJS.WriteStream,
        format: (_o, params, payload: { total?: number }) =>
          this.#line(params.value, payload.total, this.#bytes),
        hideCursor: true,
        clearOnComplete: false,
        fps: 10,
      });
      this.#bar.start(total ?? 0, 0, { total });
    }
    return this.#bar;
  }

  #line(done: number, total: number | undefined, bytes: number): string {
    const secs = Math.max((Date.now() - this.#start) / 1000, 1e-3);
    const rate = `${Math.round(done / secs).toLocaleString('en-US')} ${this.#unit}/s`;
    const size = bytes > 0 ? `, ${formatBytes(bytes)}` : '';
    if (total === undefined || total === 0)
      return `${this.#label} ${done.toLocaleString('en-US')} ${this.#unit}${size} (${rate})`;
    const width = 30;
    const filled = Math.min(width, Math.round((width * done) / total));
    const pct = ((100 * done) / total).toFixed(0).padStart(3);
    return `${this.#label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${pct}% ${done.toLocaleString('en-US')}/${total.toLocaleString('en-US')}${size} (${rate})`;
  }
}
