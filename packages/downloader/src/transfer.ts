import { setMaxListeners } from 'node:events';
import { type FileHandle, open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { isAbortError, isStreamsError, signalReason } from '@streams/core';
import { BatchWriter } from './batchWriter.js';
import type { EngineCounters } from './downloadOptions.js';
import { concatBytes, type Driver, networkError, type ObjectBody } from './driver.js';
import { hashFile } from './existingFile.js';
import { createHasher } from './integrity.js';
import type { RetryPolicy } from './retryPolicy.js';
import { hashMismatch, objectChanged, sizeMismatch, stalled } from './transferErrors.js';
import type {
  FileAttempt,
  ParsedHash,
  ReadState,
  TransferOptions,
  TransferState,
} from './transferState.js';

/**
 * Moves one object's bytes to a file or into memory, one attempt per call: streamed writes
 * with backpressure, stall detection, size and digest checks, and the state that lets the next
 * attempt resume where this one broke off. The {@link RetryPolicy} decides about attempts.
 */
export class Transfer {
  constructor(
    private readonly o: TransferOptions,
    private readonly counters: EngineCounters,
    /** The engine's limits: parallel parts take only slots that are free at once. */
    private readonly gates: Pick<RetryPolicy, 'global' | 'hostGate'>,
  ) {}

  /**
   * One attempt: stream the body into the temporary file and check it. After an attempt that
   * broke off mid-body, the next one asks only for the missing bytes (a range read), as long as
   * the object's ETag has not changed; the digest keeps running over the bytes on disk.
   */
  async toFile(
    driver: Driver,
    url: string,
    state: TransferState,
    signal: AbortSignal,
    expected: ParsedHash | undefined,
    /** Called once the body is received: the rest (write, fsync, close) is disk work. */
    received?: () => void,
    /** Also return the bytes written when the object is at most this many bytes (0: never). */
    keepBytes = 0,
  ): Promise<FileAttempt> {
    const resume = state.written > 0 && state.total !== undefined && state.written < state.total;
    if (!resume) {
      state.written = 0;
      state.total = state.expectedSize;
      state.etag = undefined;
      state.hasher = expected ? await createHasher(expected.algorithm) : undefined;
    }
    // The temp file opens while the request is on its way: a small object's latency is then
    // max(open, first byte) rather than their sum, and with a fixed number of transfers in
    // flight, latency is throughput.
    const opening = open(state.tmp, resume ? 'r+' : 'w');
    opening.catch(() => {}); // awaited below, or closed in the catch block
    let fh: FileHandle | undefined;
    let writer: BatchWriter | undefined;
    let pushed = state.written;
    let closed = false;
    // The chunks as written, while they stay within keepBytes. A resumed attempt has only the rest
    // of the object in hand: it keeps nothing.
    let kept: Uint8Array[] | undefined = keepBytes > 0 && !resume ? [] : undefined;
    // Set when the bytes on disk cannot be continued (object changed, too long, bad digest).
    let restart = false;
    try {
      const body = resume
        ? await driver.getRange(url, state.written, state.total! - state.written, { signal })
        : await driver.get(url, { signal });
      if (resume && state.etag && body.etag && body.etag !== state.etag) {
        await body.cancel();
        restart = true;
        throw objectChanged(driver, url, state.etag, body.etag);
      }
      if (!resume) {
        if (
          state.expectedSize !== undefined &&
          body.size !== undefined &&
          body.size !== state.expectedSize
        ) {
          await body.cancel();
          restart = true;
          throw sizeMismatch(driver, url, state.expectedSize, body.size);
        }
        state.total ??= body.size;
        state.etag = body.etag;
      }
      try {
        fh = await opening;
      } catch (err) {
        void body.cancel().catch(() => {});
        throw err;
      }
      const w = new BatchWriter(fh, state.written);
      writer = w;
      const hasher = state.hasher;
      await this.pump(
        body,
        signal,
        (chunk) => {
          if (state.total !== undefined && pushed + chunk.byteLength > state.total) {
            // Longer than declared: stop reading now, not at the end of an endless body.
            restart = true;
            throw sizeMismatch(driver, url, state.total, pushed + chunk.byteLength, 'at least ');
          }
          hasher?.update(chunk);
          pushed += chunk.byteLength;
          this.counters.bytes += chunk.byteLength;
          if (kept !== undefined) {
            if (pushed > keepBytes) kept = undefined;
            else kept.push(chunk);
          }
          return w.push(chunk);
        },
        (err) => networkError(driver.name, 'GET', url, err),
      );
      // The connection is done with: its concurrency slot goes to the next request rather than
      // waiting for the disk (a busy thread pool makes the write, fsync and close slower than
      // the request itself for small objects).
      received?.();
      await w.flush();
      if (state.total !== undefined && pushed !== state.total) {
        // Short: the connection closed early and the next attempt resumes. Long: start over.
        restart = pushed > state.total;
        throw sizeMismatch(driver, url, state.total, pushed);
      }
      let digest: string | undefined;
      if (hasher && expected) {
        digest = hasher.digest('hex');
        if (digest !== expected.digest) {
          restart = true;
          throw hashMismatch(driver, url, expected, digest);
        }
      }
      if (this.o.fsync) await fh.sync();
      await fh.close();
      closed = true;
      state.written = pushed;
      return {
        tmp: state.tmp,
        bytes: pushed,
        digest,
        body: kept === undefined ? undefined : concatBytes(kept, pushed),
      };
    } catch (err) {
      // Keep what reached the disk: the next attempt continues after it.
      const flushed = writer
        ? await writer.flush().then(
            () => true,
            () => false,
          )
        : true;
      if (!closed) {
        const handle = fh ?? (await opening.catch(() => undefined));
        await handle?.close().catch(() => {});
      }
      state.written = restart || !flushed || !this.o.resume ? 0 : pushed;
      throw err;
    }
  }

  /**
   * One attempt of a read into memory. After an attempt that broke off mid-body, the next asks
   * only for the missing bytes (a range read), as long as the object's ETag has not changed, the
   * way downloads resume.
   */
  async toMemory(
    driver: Driver,
    url: string,
    state: ReadState,
    signal: AbortSignal,
  ): Promise<Uint8Array> {
    const resume =
      this.o.resume &&
      state.received > 0 &&
      state.total !== undefined &&
      state.received < state.total;
    if (!resume) {
      state.chunks = [];
      state.received = 0;
      state.total = state.wanted ?? state.expectedSize;
      state.etag = undefined;
    }
    let body: ObjectBody;
    if (resume) {
      const at = state.offset + state.received;
      body = await driver.getRange(url, at, state.total! - state.received, { signal });
      if (state.etag && body.etag && body.etag !== state.etag) {
        await body.cancel();
        state.received = 0;
        throw objectChanged(driver, url, state.etag, body.etag);
      }
    } else {
      if (state.ranged) state.total ??= (await driver.stat(url, { signal })).size - state.offset;
      body = state.ranged
        ? await driver.getRange(url, state.offset, state.total!, { signal })
        : await driver.get(url, { signal });
      if (
        state.expectedSize !== undefined &&
        body.size !== undefined &&
        body.size !== state.expectedSize
      ) {
        await body.cancel();
        throw sizeMismatch(driver, url, state.expectedSize, body.size);
      }
      state.total ??= body.size;
      state.etag = body.etag;
    }
    await this.pump(
      body,
      signal,
      (chunk) => {
        if (state.total !== undefined && state.received + chunk.byteLength > state.total) {
          // Longer than declared: stop reading now, not at the end of an endless body.
          const got = state.received + chunk.byteLength;
          state.received = 0;
          throw sizeMismatch(driver, url, state.total, got, 'at least ');
        }
        state.chunks.push(chunk);
        state.received += chunk.byteLength;
        this.counters.bytes += chunk.byteLength;
      },
      (err) => networkError(driver.name, 'GET', url, err),
    );
    const got = state.received;
    if (state.total !== undefined && got !== state.total) {
      // Short: the connection closed early and the next attempt resumes. Long: start over.
      if (got > state.total) state.received = 0;
      throw sizeMismatch(driver, url, state.total, got);
    }
    return concatBytes(state.chunks, got);
  }

  /**
   * One attempt for a large object of known size: parallel range reads of `partSize` bytes,
   * each written at its offset. The first part runs in the slot this attempt holds; more run
   * only on slots that are free right now (never waiting, so limits hold and nothing
   * deadlocks). Parts that landed are kept for the next attempt; the digest is computed over
   * the finished file.
   */
  async parts(
    driver: Driver,
    url: string,
    state: TransferState,
    signal: AbortSignal,
    expected: ParsedHash | undefined,
  ): Promise<FileAttempt> {
    const size = state.expectedSize!;
    const partSize = this.o.partSize;
    const count = Math.ceil(size / partSize);
    if (!this.o.resume) state.partsDone.clear();
    const fh = await open(state.tmp, state.partsDone.size > 0 ? 'r+' : 'w+');
    const pending = Array.from({ length: count }, (_, i) => i).filter(
      (i) => !state.partsDone.has(i),
    );
    const host = this.gates.hostGate(url);
    const extra: Array<() => void> = [];
    let restart = false;
    // Parts in flight each link the driver, its client and the pump to this attempt's signal:
    // a dozen listeners is expected, not a leak.
    setMaxListeners(0, signal);
    try {
      for (let k = 1; k < Math.min(this.o.partConcurrency, pending.length); k++) {
        const h = host.tryAcquire();
        const g = h && this.gates.global.tryAcquire();
        if (!h || !g) {
          h?.();
          break;
        }
        extra.push(() => {
          g();
          h();
        });
      }
      let next = 0;
      const fetchPart = async (i: number) => {
        const offset = i * partSize;
        const length = Math.min(partSize, size - offset);
        const body = await driver.getRange(url, offset, length, { signal });
        if (state.etag && body.etag && body.etag !== state.etag) {
          await body.cancel();
          restart = true;
          throw objectChanged(driver, url, state.etag, body.etag);
        }
        state.etag ??= body.etag;
        const writer = new BatchWriter(fh, offset);
        let got = 0;
        try {
          await this.pump(
            body,
            signal,
            (chunk) => {
              got += chunk.byteLength;
              this.counters.bytes += chunk.byteLength;
              return writer.push(chunk);
            },
            (err) => networkError(driver.name, 'GET', url, err),
          );
        } finally {
          await writer.flush().catch(() => {});
        }
        if (got !== length)
          throw sizeMismatch(driver, `${url} (bytes ${offset}..${offset + length})`, length, got);
        state.partsDone.add(i);
      };
      // After a failure no new part starts; parts already running finish and are kept.
      let failing = false;
      const worker = async () => {
        while (!failing && next < pending.length) {
          try {
            await fetchPart(pending[next++]!);
          } catch (err) {
            failing = true;
            throw err;
          }
        }
      };
      const settled = await Promise.allSettled(Array.from({ length: 1 + extra.length }, worker));
      const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      let digest: string | undefined;
      if (expected) {
        digest = await hashFile(fh, expected.algorithm, size);
        if (digest !== expected.digest) {
          restart = true;
          throw hashMismatch(driver, url, expected, digest);
        }
      }
      if (this.o.fsync) await fh.sync();
      return { tmp: state.tmp, bytes: size, digest };
    } catch (err) {
      if (restart) {
        state.partsDone.clear();
        state.etag = undefined;
      }
      throw err;
    } finally {
      for (const release of extra) release();
      await fh.close().catch(() => {});
    }
  }

  /**
   * Feeds a body's chunks to `sink` (which may return a promise to wait on: backpressure),
   * aborting with STREAMS_STALLED when no chunk arrives for `stallTimeoutMs`.
   */
  async pump(
    body: ObjectBody,
    signal: AbortSignal,
    sink: (chunk: Uint8Array) => Promise<void> | undefined | void,
    wrap: (err: unknown) => unknown = (e) => e,
  ): Promise<void> {
    const readable = body.takeReadable?.();
    if (readable) return this.pumpReadable(readable, signal, sink, wrap);
    const iterator = body[Symbol.asyncIterator]();
    const stallMs = this.o.stallTimeoutMs;
    // One abort listener and one stall timer per body (the timer is refreshed on each chunk).
    let onAbort: (() => void) | undefined;
    let stallTimer: NodeJS.Timeout | undefined;
    const interrupted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signalReason(signal));
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
      if (Number.isFinite(stallMs) && stallMs > 0)
        stallTimer = setTimeout(() => reject(stalled(stallMs)), stallMs);
    });
    interrupted.catch(() => {});
    try {
      while (true) {
        const next = await Promise.race([iterator.next(), interrupted]);
        if (next.done) break;
        stallTimer?.refresh();
        const wait = sink(next.value);
        if (wait) await Promise.race([wait, interrupted]);
      }
    } catch (err) {
      // Free the socket whatever happened; the iterator may be mid-read.
      void body.cancel().catch(() => {});
      void iterator.return?.()?.catch(() => {});
      throw err;
    } finally {
      clearTimeout(stallTimer);
      if (onAbort) signal.removeEventListener('abort', onAbort);
    }
  }

  /**
   * The fast path of {@link pump} for Node streams: 'data' events, paused while the sink's
   * promise is pending, with the same stall timer and abort handling and no promise per chunk.
   */
  private pumpReadable(
    readable: Readable,
    signal: AbortSignal,
    sink: (chunk: Uint8Array) => Promise<void> | undefined | void,
    wrap: (err: unknown) => unknown,
  ): Promise<void> {
    const stallMs = this.o.stallTimeoutMs;
    return new Promise<void>((resolve, reject) => {
      let done = false;
      let stallTimer: NodeJS.Timeout | undefined;
      const finish = (err?: unknown) => {
        if (done) return;
        done = true;
        clearTimeout(stallTimer);
        signal.removeEventListener('abort', onAbort);
        readable.off('data', onData);
        readable.off('end', onEnd);
        readable.off('error', onError);
        readable.off('close', onClose);
        if (err === undefined) resolve();
        else {
          // Free the socket or file handle; later errors of the dying stream are ignored.
          readable.on('error', () => {});
          readable.destroy();
          reject(err);
        }
      };
      const onAbort = () => finish(signalReason(signal));
      const onData = (chunk: Uint8Array) => {
        stallTimer?.refresh();
        let wait: Promise<void> | undefined | void;
        try {
          wait = sink(chunk);
        } catch (err) {
          finish(err);
          return;
        }
        if (wait) {
          readable.pause();
          wait.then(() => {
            if (!done) readable.resume();
          }, finish);
        }
      };
      const onEnd = () => finish();
      const onError = (err: unknown) =>
        finish(isStreamsError(err) || isAbortError(err) ? err : wrap(err));
      const onClose = () => {
        if (!readable.readableEnded)
          finish(
            wrap(
              Object.assign(new Error('the stream closed before its end'), {
                code: 'ERR_STREAM_PREMATURE_CLOSE',
              }),
            ),
          );
      };
      if (signal.aborted) {
        onAbort();
        return;
      }
      if (Number.isFinite(stallMs) && stallMs > 0)
        stallTimer = setTimeout(() => finish(stalled(stallMs)), stallMs);
      signal.addEventListener('abort', onAbort, { once: true });
      readable.on('data', onData);
      readable.on('end', onEnd);
      readable.on('error', onError);
      readable.on('close', onClose);
    });
  }
}
