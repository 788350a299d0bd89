import type { FileHandle } from 'node:fs/promises';

/**
 * Writes chunks to a file handle in arrival order, gathering the chunks that arrive while a
 * write is running into one `writev`. `push` returns a promise only when more than
 * `highWaterMark` bytes wait, which is the caller's cue to stop reading (backpressure).
 */
export class BatchWriter {
  private queue: Uint8Array[] = [];
  private queued = 0;
  private running: Promise<void> | undefined;
  private failure: unknown;

  constructor(
    private readonly fh: FileHandle,
    /** File offset of the first byte pushed. */
    private position = 0,
    private readonly highWaterMark = 8 << 20,
  ) {}

  push(chunk: Uint8Array): Promise<void> | undefined {
    if (this.failure) return Promise.reject(this.failure);
    this.queue.push(chunk);
    this.queued += chunk.byteLength;
    if (!this.running) {
      this.running = this.drain();
      // Errors surface through push() and flush(); never as unhandled rejections.
      this.running.catch(() => {});
    }
    return this.queued > this.highWaterMark ? this.running : undefined;
  }

  /** Resolves when everything pushed is written; rejects with the first write error. */
  async flush(): Promise<void> {
    while (this.running) await this.running;
    if (this.failure) throw this.failure;
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        const bytes = this.queued;
        this.queue = [];
        this.queued = 0;
        await this.fh.writev(batch, this.position);
        this.position += bytes;
      }
    } catch (err) {
      this.failure = err;
      throw err;
    } finally {
      this.running = undefined;
    }
  }
}
