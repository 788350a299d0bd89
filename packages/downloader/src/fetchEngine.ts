import { setMaxListeners } from 'node:events';
import { type FileHandle, stat as fsStat, mkdir, open, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Readable } from 'node:stream';
import {
  EventHub,
  isAbortError,
  isStreamsError,
  type Rng,
  redactUrl,
  rng,
  StreamsError,
  type StreamsErrorCode,
  signalReason,
  sleep,
  throwIfAborted,
  world,
} from '@streams/core';
import type { IHasher } from 'hash-wasm';
import { ConcurrencyLimiter } from './concurrencyLimiter.js';
import { type Compression, compressionOf, decompressFile } from './decompress.js';
import {
  byUrl,
  concatBytes,
  type Driver,
  describeCause,
  type ListEntry,
  networkError,
  type ObjectBody,
  type ObjectStat,
  TransferError,
} from './driver.js';
import { createHasher, type ExpectedHash, parseHash } from './integrity.js';
import { commitRename, fsyncPath, tempPathFor } from './landing.js';
import { type PrefetchOptions, PrefetchQueue } from './prefetchQueue.js';
import { getDriver, parseObjectUrl } from './registry.js';

/** Options of {@link createFetchEngine}. Defaults suit object stores on a fast network. */
export interface FetchEngineOptions {
  /**
   * Transfers in flight on the whole node, shared out evenly among the node's processes
   * (`localProcesses`): this process gets ceil(nodeConcurrency / localProcesses), and at most
   * `concurrency`. The share is static: processes do not coordinate at run time.
   */
  nodeConcurrency?: number;
  /** Processes on this node (default: `world().localWorldSize` from the launcher's environment). */
  localProcesses?: number;
  /** Transfers in flight in this process, over all hosts (default 32). */
  concurrency?: number;
  /** Transfers in flight per host or bucket; lowered (AIMD) when the host throttles (default 16). */
  perHost?: number;
  /** Attempts per operation, the first included (default 6). */
  maxAttempts?: number;
  /** First backoff ceiling; attempt n waits a uniform random time in [0, min(max, base * 2^(n-1))] (default 250). */
  backoffBaseMs?: number;
  /** Largest backoff (default 20,000). */
  backoffMaxMs?: number;
  /** Time limit of one attempt, in ms (default 10 minutes; Infinity for none). */
  attemptTimeoutMs?: number;
  /** An attempt that receives no bytes for this long is aborted and retried (default 30,000). */
  stallTimeoutMs?: number;
  /** fsync each landed file before its rename, so a power loss cannot leave a renamed but empty file (default true). */
  fsync?: boolean;
  /** After a transfer broke off mid-body, fetch only the missing bytes with a range read (default true). */
  resume?: boolean;
  /**
   * Objects of at least this size (known from `DownloadOptions.size`) are fetched as parallel
   * range reads of `partSize` bytes (default 64 MiB; Infinity disables).
   */
  multipartThreshold?: number;
  /** Part size of parallel range reads (default 16 MiB). */
  partSize?: number;
  /** Parts of one object in flight at once, if the global and host limits have free slots (default 4). */
  partConcurrency?: number;
  /** Also fsync the directory after each rename, so the new name itself survives a power loss (default false). */
  fsyncDirectory?: boolean;
  /** Seed of the backoff jitter (default: from the clock). */
  seed?: number;
  /** Where events go (default: a new hub, see {@link FetchEngine.events}). */
  events?: EventHub;
  /** Driver lookup (default: the registry's {@link getDriver}). */
  driverFor?: (url: string) => Driver;
}

/** Options of {@link FetchEngine.download}. */
export interface DownloadOptions {
  signal?: AbortSignal | undefined;
  /** Expected size in bytes of the object as stored (checked always; else Content-Length is). */
  size?: number | undefined;
  /** Expected digest of the object as stored, e.g. `"sha256:..."` or `{ algorithm: 'xxh64', digest }`. */
  hash?: ExpectedHash | undefined;
  /**
   * Decompress on landing: `true` picks the codec from the URL's extension (`.gz`, `.bz2`, `.zst`,
   * `.zstd`, `.br`, `.snappy`), or name one. The decompressed file lands at `dest` minus that extension
   * (or at `decompressedPath`).
   */
  decompress?: boolean | Compression | undefined;
  /** Where the decompressed file lands (default: `dest` without the compression extension). */
  decompressedPath?: string | undefined;
  /** Keep the compressed file at `dest` next to the decompressed one (default false). */
  keepCompressed?: boolean | undefined;
  /**
   * Where bytes go while they arrive (default: a hidden `.part` file next to `dest`). Must be on
   * the same file system as `dest`; each attempt starts it afresh.
   */
  tempPath?: string | undefined;
  /**
   * Keep a file already at the destination instead of downloading: `dest` must match `size` and
   * `hash` when given; with `decompress`, the decompressed file must exist (default false).
   */
  skipExisting?: boolean | undefined;
}

/** What a finished download produced. */
export interface DownloadResult {
  /** The URL, redacted. */
  url: string;
  /** The file to read: the decompressed one when decompressing, else `dest`. */
  path: string;
  /** The compressed copy, when kept. */
  compressedPath?: string | undefined;
  /** Bytes transferred by the successful attempt (the object's size). */
  bytes: number;
  /** Size of the file at `path`. */
  size: number;
  attempts: number;
  /** The computed digest (hex), when a hash was given. */
  digest?: string | undefined;
  durationMs: number;
}

/** Options of {@link FetchEngine.read}. */
export interface ReadOptions {
  signal?: AbortSignal | undefined;
  /** First byte (default 0). */
  offset?: number | undefined;
  /** Bytes to read (default: to the end). */
  length?: number | undefined;
}

/** Counters of everything an engine did, as reported in its events. */
export interface EngineCounters {
  bytes: number;
  done: number;
  failed: number;
  retries: number;
  throttles: number;
  inFlight: number;
  [key: string]: number;
}

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);

/**
 * Moves bytes from URLs to local files and memory with limits, retries, throttling, timeouts,
 * stall detection, integrity checks and atomic landing. One per process is usually right: its
 * limits are process-wide.
 */
export class FetchEngine {
  /** Events: `download.done`, `download.failed` (progress), `download.retry` (retry), `download.throttle` (throttle), and `download.progress` from prefetch queues. */
  readonly events: EventHub;
  readonly counters: EngineCounters = {
    bytes: 0,
    done: 0,
    failed: 0,
    retries: 0,
    throttles: 0,
    inFlight: 0,
  };
  private readonly global: ConcurrencyLimiter;
  private readonly hosts = new Map<string, ConcurrencyLimiter>();
  private readonly jitter: Rng;
  private readonly o: Required<
    Omit<FetchEngineOptions, 'events' | 'driverFor' | 'seed' | 'nodeConcurrency' | 'localProcesses'>
  >;
  private readonly driverFor: (url: string) => Driver;

  constructor(options: FetchEngineOptions = {}) {
    this.o = {
      concurrency: processShare(options),
      perHost: positive('perHost', options.perHost ?? 16),
      maxAttempts: positive('maxAttempts', options.maxAttempts ?? 6),
      backoffBaseMs: options.backoffBaseMs ?? 250,
      backoffMaxMs: options.backoffMaxMs ?? 20_000,
      attemptTimeoutMs: options.attemptTimeoutMs ?? 600_000,
      stallTimeoutMs: options.stallTimeoutMs ?? 30_000,
      fsync: options.fsync ?? true,
      fsyncDirectory: options.fsyncDirectory ?? false,
      resume: options.resume ?? true,
      multipartThreshold: options.multipartThreshold ?? 64 << 20,
      partSize: positive('partSize', options.partSize ?? 16 << 20),
      partConcurrency: positive('partConcurrency', options.partConcurrency ?? 4),
    };
    this.events = options.events ?? new EventHub('downloader');
    this.global = new ConcurrencyLimiter(this.o.concurrency);
    this.jitter = rng(options.seed ?? Date.now(), 'downloader.backoff');
    this.driverFor = options.driverFor ?? getDriver;
  }

  private readonly dirs = new Set<string>();

  /** mkdir -p, once per directory per engine (a syscall saved per small object). */
  private async ensureDir(dir: string): Promise<void> {
    if (this.dirs.has(dir)) return;
    await mkdir(dir, { recursive: true });
    if (this.dirs.size > 10_000) this.dirs.clear();
    this.dirs.add(dir);
  }

  /** Transfers this engine runs at once over all hosts (after the node share). */
  get concurrency(): number {
    return this.o.concurrency;
  }

  /** The current concurrency limit of a host (lowered by throttling), for monitoring. */
  hostLimit(url: string): number {
    return this.hostGate(url).limit;
  }

  /**
   * Downloads `url` to `dest` atomically: the bytes go to a temporary file in `dest`'s directory,
   * are checked (size always, digest when given), fsynced and renamed into place. A reader never
   * sees a partial file. Retries transient failures; 403/404 fail at once.
   */
  async download(
    url: string,
    dest: string,
    options: DownloadOptions = {},
  ): Promise<DownloadResult> {
    const driver = this.driverFor(url);
    const expected = options.hash === undefined ? undefined : parseHash(options.hash);
    const codec = this.codecFor(url, dest, options);
    if (options.skipExisting) {
      const kept = await this.existing(codec ? codec.out : dest, codec ? {} : options, expected);
      if (kept)
        return {
          url: redactUrl(url),
          path: kept.path,
          bytes: 0,
          size: kept.size,
          attempts: 0,
          digest: kept.digest,
          durationMs: 0,
        };
    }
    const started = performance.now();
    await this.ensureDir(dirname(dest));
    const state: TransferState = {
      tmp: options.tempPath ?? tempPathFor(dest),
      written: 0,
      total: options.size,
      expectedSize: options.size,
      etag: undefined,
      hasher: undefined,
      partsDone: new Set(),
    };
    let res: { tmp: string; bytes: number; digest?: string | undefined; attempt: number };
    try {
      const parts =
        options.size !== undefined &&
        options.size >= this.o.multipartThreshold &&
        options.size > this.o.partSize;
      res = await this.withRetries(driver, 'GET', url, options.signal, async (signal, attempt) => {
        const r = parts
          ? await this.fetchParts(driver, url, state, signal, expected)
          : await this.fetchToFile(driver, url, state, signal, expected);
        return { ...r, attempt };
      });
    } catch (err) {
      await rm(state.tmp, { force: true });
      throw err;
    }
    let path = dest;
    let compressedPath: string | undefined;
    let size = res.bytes;
    if (codec) {
      const out = codec.out;
      const tmp = options.tempPath ? `${options.tempPath}.dec` : tempPathFor(out);
      try {
        await this.ensureDir(dirname(out));
        await decompressFile(res.tmp, tmp, codec.compression, { signal: options.signal, url });
        if (this.o.fsync) await fsyncPath(tmp);
        await commitRename(tmp, out, this.o.fsyncDirectory);
      } catch (err) {
        await rm(tmp, { force: true });
        await rm(res.tmp, { force: true });
        throw err;
      }
      size = (await fsStat(out)).size;
      path = out;
      if (options.keepCompressed && out !== dest) {
        await commitRename(res.tmp, dest, this.o.fsyncDirectory);
        compressedPath = dest;
      } else await rm(res.tmp, { force: true });
    } else {
      await commitRename(res.tmp, dest, this.o.fsyncDirectory);
    }
    const durationMs = performance.now() - started;
    const safeUrl = redactUrl(url);
    this.counters.done++;
    if (this.events.active)
      this.events.emit({
        kind: 'progress',
        name: 'download.done',
        bytes: res.bytes,
        durationMs,
        counters: { ...this.counters },
        attrs: { url: safeUrl, attempts: res.attempt, driver: driver.name },
      });
    return {
      url: safeUrl,
      path,
      compressedPath,
      bytes: res.bytes,
      size,
      attempts: res.attempt,
      digest: res.digest,
      durationMs,
    };
  }

  /** The file at `path` when it is there and matches the expected size and digest. */
  private async existing(
    path: string,
    o: { size?: number | undefined },
    expected: { algorithm: Parameters<typeof createHasher>[0]; digest: string } | undefined,
  ): Promise<{ path: string; size: number; digest?: string | undefined } | undefined> {
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch {
      return undefined;
    }
    try {
      const { size } = await fh.stat();
      if (o.size !== undefined && size !== o.size) return undefined;
      if (!expected) return { path, size };
      const digest = await hashFile(fh, expected.algorithm, size);
      return digest === expected.digest ? { path, size, digest } : undefined;
    } finally {
      await fh.close();
    }
  }

  /** A queue that downloads in plan order with `depth` downloads in flight (see {@link PrefetchQueue}). */
  prefetch(options: PrefetchOptions = {}): PrefetchQueue {
    return new PrefetchQueue(this, options);
  }

  /** Reads an object (or `offset`/`length` of it) into memory, with the engine's retries and limits. */
  async read(url: string, options: ReadOptions = {}): Promise<Uint8Array> {
    const driver = this.driverFor(url);
    return this.withRetries(driver, 'GET', url, options.signal, async (signal) => {
      const body =
        options.offset === undefined && options.length === undefined
          ? await driver.get(url, { signal })
          : await driver.getRange(
              url,
              options.offset ?? 0,
              options.length ?? (await driver.stat(url, { signal })).size - (options.offset ?? 0),
              { signal },
            );
      const chunks: Uint8Array[] = [];
      let total = 0;
      await this.pump(
        body,
        signal,
        (chunk) => {
          chunks.push(chunk);
          total += chunk.byteLength;
        },
        (err) => networkError(driver.name, 'GET', url, err),
      );
      const want = options.length ?? body.size;
      if (want !== undefined && total !== want) throw sizeMismatch(driver, url, want, total);
      this.counters.bytes += total;
      return concatBytes(chunks, total);
    });
  }

  /** `stat` with retries. */
  stat(url: string, options: { signal?: AbortSignal | undefined } = {}): Promise<ObjectStat> {
    const driver = this.driverFor(url);
    return this.withRetries(driver, 'HEAD', url, options.signal, (signal) =>
      driver.stat(url, { signal }),
    );
  }

  /** `exists` with retries. */
  exists(url: string, options: { signal?: AbortSignal | undefined } = {}): Promise<boolean> {
    const driver = this.driverFor(url);
    return this.withRetries(driver, 'HEAD', url, options.signal, (signal) =>
      driver.exists(url, { signal }),
    );
  }

  /**
   * The full listing of `prefix`, sorted by URL. With a driver that lists by pages (s3, gs) a
   * failing page is retried on its own; otherwise the listing restarts. Pages that keep failing
   * fail the listing: there are no partial lists.
   */
  async list(
    prefix: string,
    options: { signal?: AbortSignal | undefined } = {},
  ): Promise<ListEntry[]> {
    const driver = this.driverFor(prefix);
    if (!driver.listPage)
      return this.withRetries(
        driver,
        'LIST',
        prefix,
        options.signal,
        (signal) => driver.list(prefix, { signal }),
        false,
      );
    const out: ListEntry[] = [];
    for await (const e of this.listEach(prefix, options)) out.push(e);
    return out.sort(byUrl);
  }

  /**
   * Every object under `prefix`, one at a time, for listings too large to hold: with a driver
   * that lists by pages (s3, gs) only the current page is in memory, pages are fetched as the
   * loop asks for them, in the store's key order, and a failing page is retried on its own.
   * Other drivers (file, http) are listed whole, with retries, and yielded sorted by URL. An
   * error ends the iteration with it; a `break` stops the listing.
   */
  async *listEach(
    prefix: string,
    options: { signal?: AbortSignal | undefined } = {},
  ): AsyncGenerator<ListEntry> {
    const driver = this.driverFor(prefix);
    const listPage = driver.listPage?.bind(driver);
    if (!listPage) {
      yield* await this.list(prefix, options);
      return;
    }
    let token: string | undefined;
    do {
      const from = token;
      const page = await this.withRetries(
        driver,
        'LIST',
        prefix,
        options.signal,
        (signal) => listPage(prefix, from, { signal }),
        false,
      );
      yield* page.entries;
      token = page.next;
    } while (token);
  }

  private codecFor(
    url: string,
    dest: string,
    o: DownloadOptions,
  ): { compression: Compression; out: string } | undefined {
    if (!o.decompress) return undefined;
    const fromUrl = compressionOf(parseObjectUrl(url).url.pathname);
    const compression = typeof o.decompress === 'string' ? o.decompress : fromUrl?.compression;
    if (!compression)
      throw new StreamsError(
        'STREAMS_UNSUPPORTED_ENCODING',
        `[streams/downloader] cannot tell the compression of ${url} from its extension`,
        { url, fix: 'name it: decompress: "gzip" | "bzip2" | "zstd" | "brotli" | "snappy"' },
      );
    // The decompressed file drops dest's compression extension; without one it takes dest itself.
    const out = o.decompressedPath ?? compressionOf(dest)?.stripped ?? dest;
    if (out === dest && o.keepCompressed)
      throw new StreamsError(
        'STREAMS_INVALID_ARGUMENT',
        `[streams/downloader] keepCompressed needs two paths, but ${dest} has no compression extension`,
        { url, fix: 'give dest the compressed extension (e.g. ".gz") or pass decompressedPath' },
      );
    return { compression, out };
  }

  /**
   * One attempt: stream the body into the temporary file and check it. After an attempt that
   * broke off mid-body, the next one asks only for the missing bytes (a range read), as long as
   * the object's ETag has not changed; the digest keeps running over the bytes on disk.
   */
  private async fetchToFile(
    driver: Driver,
    url: string,
    state: TransferState,
    signal: AbortSignal,
    expected: { algorithm: Parameters<typeof createHasher>[0]; digest: string } | undefined,
  ): Promise<{ tmp: string; bytes: number; digest?: string | undefined }> {
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
    // Set when the bytes on disk cannot be continued (object changed, too long, bad digest).
    let restart = false;
    try {
      const body = resume
        ? await driver.getRange(url, state.written, state.total! - state.written, { signal })
        : await driver.get(url, { signal });
      if (resume && state.etag && body.etag && body.etag !== state.etag) {
        await body.cancel();
        restart = true;
        throw new TransferError(
          'STREAMS_NETWORK',
          `[streams/downloader] [${driver.name}] GET ${url}: the object changed while downloading (ETag ${state.etag} -> ${body.etag}); starting over`,
          { url, retryable: true },
        );
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
          hasher?.update(chunk);
          pushed += chunk.byteLength;
          this.counters.bytes += chunk.byteLength;
          return w.push(chunk);
        },
        (err) => networkError(driver.name, 'GET', url, err),
      );
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
      return { tmp: state.tmp, bytes: pushed, digest };
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
   * One attempt for a large object of known size: parallel range reads of `partSize` bytes,
   * each written at its offset. The first part runs in the slot this attempt holds; more run
   * only on slots that are free right now (never waiting, so limits hold and nothing
   * deadlocks). Parts that landed are kept for the next attempt; the digest is computed over
   * the finished file.
   */
  private async fetchParts(
    driver: Driver,
    url: string,
    state: TransferState,
    signal: AbortSignal,
    expected: { algorithm: Parameters<typeof createHasher>[0]; digest: string } | undefined,
  ): Promise<{ tmp: string; bytes: number; digest?: string | undefined }> {
    const size = state.expectedSize!;
    const partSize = this.o.partSize;
    const count = Math.ceil(size / partSize);
    if (!this.o.resume) state.partsDone.clear();
    const fh = await open(state.tmp, state.partsDone.size > 0 ? 'r+' : 'w+');
    const pending = Array.from({ length: count }, (_, i) => i).filter(
      (i) => !state.partsDone.has(i),
    );
    const host = this.hostGate(url);
    const extra: Array<() => void> = [];
    let restart = false;
    // Parts in flight each link the driver, its client and the pump to this attempt's signal:
    // a dozen listeners is expected, not a leak.
    setMaxListeners(0, signal);
    try {
      for (let k = 1; k < Math.min(this.o.partConcurrency, pending.length); k++) {
        const h = host.tryAcquire();
        const g = h && this.global.tryAcquire();
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
          throw new TransferError(
            'STREAMS_NETWORK',
            `[streams/downloader] [${driver.name}] GET ${url}: the object changed while downloading (ETag ${state.etag} -> ${body.etag}); starting over`,
            { url, retryable: true },
          );
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
  private async pump(
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

  private hostGate(url: string): ConcurrencyLimiter {
    const { scheme, url: parsed } = parseObjectUrl(url);
    const key = `${scheme}://${parsed.host}`;
    let gate = this.hosts.get(key);
    if (!gate) {
      gate = new ConcurrencyLimiter(this.o.perHost);
      this.hosts.set(key, gate);
    }
    return gate;
  }

  /**
   * Runs `fn` under the host and global limits with a fresh per-attempt signal, retrying
   * transient failures with exponential backoff and full jitter.
   */
  private async withRetries<T>(
    driver: Driver,
    op: string,
    url: string,
    userSignal: AbortSignal | undefined,
    fn: (signal: AbortSignal, attempt: number) => Promise<T>,
    countFailure = true,
  ): Promise<T> {
    const host = this.hostGate(url);
    // Only failures and retries report the URL: redact it (a URL parse) only then.
    let redacted: string | undefined;
    const safe = () => {
      redacted ??= redactUrl(url);
      return redacted;
    };
    for (let attempt = 1; ; attempt++) {
      let delayMs = 0;
      throwIfAborted(userSignal);
      // Host first: a throttled host must not hold global slots while it waits.
      const releaseHost = await host.acquire(userSignal);
      let releaseGlobal: (() => void) | undefined;
      const attemptCtl = new AbortController();
      let timer: NodeJS.Timeout | undefined;
      let unlink: (() => void) | undefined;
      try {
        releaseGlobal = await this.global.acquire(userSignal);
        this.counters.inFlight++;
        if (Number.isFinite(this.o.attemptTimeoutMs))
          timer = setTimeout(
            () =>
              attemptCtl.abort(
                new TransferError(
                  'STREAMS_TIMEOUT',
                  `attempt timed out after ${this.o.attemptTimeoutMs} ms`,
                  {
                    retryable: true,
                  },
                ),
              ),
            this.o.attemptTimeoutMs,
          );
        // Linked by hand: AbortSignal.any() on a long-lived queue signal piles up dependants.
        if (userSignal) {
          unlink = () => attemptCtl.abort(userSignal.reason);
          userSignal.addEventListener('abort', unlink, { once: true });
        }
        const signal = attemptCtl.signal;
        const value = await fn(signal, attempt);
        host.succeed();
        return value;
      } catch (raw) {
        if (userSignal?.aborted) throw signalReason(userSignal);
        const err = attemptCtl.signal.aborted && isAbortError(raw) ? attemptCtl.signal.reason : raw;
        const t = err instanceof TransferError ? err : undefined;
        const retryable = t ? t.retryable : isTransient(err);
        if (!retryable || attempt >= this.o.maxAttempts) {
          if (countFailure) this.counters.failed++;
          const final = finalError(driver, op, url, err, attempt, retryable);
          if (this.events.active)
            this.events.emit({
              kind: 'progress',
              name: 'download.failed',
              counters: { ...this.counters },
              attrs: { url: safe(), op, attempts: attempt, code: final.code, driver: driver.name },
            });
          throw final;
        }
        if (t?.throttled) {
          host.throttle(t.retryAfterMs);
          this.counters.throttles++;
          if (this.events.active)
            this.events.emit({
              kind: 'throttle',
              name: 'download.throttle',
              counters: { ...this.counters },
              attrs: {
                url: safe(),
                host: hostOf(url),
                status: t.status,
                limit: host.limit,
                retryAfterMs: t.retryAfterMs,
              },
            });
        }
        const ceiling = Math.min(this.o.backoffMaxMs, this.o.backoffBaseMs * 2 ** (attempt - 1));
        delayMs = Math.max(this.jitter.float() * ceiling, t?.retryAfterMs ?? 0);
        this.counters.retries++;
        if (this.events.active)
          this.events.emit({
            kind: 'retry',
            name: 'download.retry',
            counters: { ...this.counters },
            attrs: {
              url: safe(),
              attempt,
              delayMs: Math.round(delayMs),
              code: isStreamsError(err) ? err.code : codeOf(err),
              status: t?.status,
              reason: reasonOf(err),
              driver: driver.name,
            },
          });
      } finally {
        clearTimeout(timer);
        if (unlink) userSignal?.removeEventListener('abort', unlink);
        if (releaseGlobal) {
          this.counters.inFlight--;
          releaseGlobal();
        }
        releaseHost();
      }
      await sleep(delayMs, { signal: userSignal });
    }
  }
}

/** Digest of the first `size` bytes of an open file, read in 4 MiB blocks. */
async function hashFile(
  fh: FileHandle,
  algorithm: Parameters<typeof createHasher>[0],
  size: number,
): Promise<string> {
  const hasher = await createHasher(algorithm);
  const buf = Buffer.allocUnsafe(Math.min(size, 4 << 20)); // [block]
  for (let at = 0; at < size; ) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.byteLength, size - at), at);
    if (bytesRead === 0) break;
    hasher.update(buf.subarray(0, bytesRead));
    at += bytesRead;
  }
  return hasher.digest('hex');
}

/** What one download keeps across its attempts. */
interface TransferState {
  tmp: string;
  /** Bytes on disk at the start of the file, valid for resuming. */
  written: number;
  /** Object size: expected, or from the first response. */
  total: number | undefined;
  expectedSize: number | undefined;
  etag: string | undefined;
  /** Digest state over the first `written` bytes. */
  hasher: IHasher | undefined;
  /** Parts already on disk, for parallel range reads. */
  partsDone: Set<number>;
}

/**
 * Writes chunks to a file handle in arrival order, gathering the chunks that arrive while a
 * write is running into one `writev`. `push` returns a promise only when more than
 * `highWaterMark` bytes wait, which is the caller's cue to stop reading (backpressure).
 */
class BatchWriter {
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

function finalError(
  driver: Driver,
  op: string,
  url: string,
  err: unknown,
  attempts: number,
  retryable: boolean,
): StreamsError {
  if (!retryable && isStreamsError(err)) return err;
  if (!retryable && !isStreamsError(err)) {
    return new StreamsError(
      'STREAMS_NETWORK',
      `[streams/downloader] [${driver.name}] ${op} ${url} failed: ${reasonOf(err)}`,
      {
        url,
        cause: err,
      },
    );
  }
  const code: StreamsErrorCode = isStreamsError(err) ? err.code : 'STREAMS_NETWORK';
  const status =
    err instanceof TransferError && err.status !== undefined ? ` (last status ${err.status})` : '';
  return new TransferError(
    code,
    `[streams/downloader] [${driver.name}] ${op} ${url} failed after ${attempts} attempts${status}: ${reasonOf(err)}`,
    {
      url,
      cause: err,
      status: err instanceof TransferError ? err.status : undefined,
      fix:
        isStreamsError(err) && err.fix
          ? err.fix
          : 'check the network and the server; raise maxAttempts or the timeouts if the store is slow',
    },
  );
}

function reasonOf(err: unknown): string {
  if (isStreamsError(err)) {
    // Strip the "[streams/downloader] [drv] GET url" head a driver put in front.
    return err.message.replace(/^\[streams\/downloader\]( \[\w+\])? /, '');
  }
  return describeCause(err);
}

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' ? code : 'UNKNOWN';
}

function isTransient(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e instanceof Error; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
    e = e.cause;
  }
  return false;
}

function sizeMismatch(driver: Driver, url: string, want: number, got: number): TransferError {
  return new TransferError(
    'STREAMS_SIZE_MISMATCH',
    `[streams/downloader] [${driver.name}] GET ${url}: expected ${want} bytes, got ${got}`,
    {
      url,
      retryable: true,
      fix: 'the object changed or the transfer was cut; check the index size or the source',
    },
  );
}

/** The retryable error of a body that received no bytes for `stallMs`. */
function stalled(stallMs: number): TransferError {
  return new TransferError('STREAMS_STALLED', `no bytes for ${stallMs} ms`, { retryable: true });
}

function hashMismatch(
  driver: Driver,
  url: string,
  expected: { algorithm: string; digest: string },
  digest: string,
): TransferError {
  return new TransferError(
    'STREAMS_HASH_MISMATCH',
    `[streams/downloader] [${driver.name}] GET ${url}: ${expected.algorithm} digest ${digest} does not match the expected ${expected.digest}`,
    {
      url,
      retryable: true,
      fix: 'the object changed or is corrupt; re-index it or check its source',
    },
  );
}

function hostOf(url: string): string {
  const { scheme, url: parsed } = parseObjectUrl(url);
  return `${scheme}://${parsed.host}`;
}

function processShare(options: FetchEngineOptions): number {
  const own = positive('concurrency', options.concurrency ?? 32);
  if (options.nodeConcurrency === undefined) return own;
  const node = positive('nodeConcurrency', options.nodeConcurrency);
  let local = options.localProcesses;
  if (local === undefined) {
    try {
      local = world().localWorldSize;
    } catch {
      // An inconsistent launcher environment is reported by world() users; alone we assume 1.
      local = 1;
    }
  }
  return Math.min(own, Math.max(1, Math.ceil(node / positive('localProcesses', local))));
}

function positive(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1)
    throw new StreamsError(
      'STREAMS_INVALID_ARGUMENT',
      `[streams/downloader] ${name} must be a positive integer, got ${v}`,
      {
        fix: `pass ${name}: 1 or more`,
      },
    );
  return v;
}

/** Makes a fetch engine (see {@link FetchEngineOptions}). */
export function createFetchEngine(options: FetchEngineOptions = {}): FetchEngine {
  return new FetchEngine(options);
}

let shared: FetchEngine | undefined;

/** The process-wide engine, shared by everyone who does not make their own (default options until {@link setDefaultEngine}). */
export function defaultEngine(): FetchEngine {
  shared ??= new FetchEngine();
  return shared;
}

/**
 * Replaces the process-wide engine, e.g. `setDefaultEngine(createFetchEngine({ concurrency: 64 }))`
 * once at start-up, so libraries that use {@link defaultEngine} follow the application's limits.
 */
export function setDefaultEngine(engine: FetchEngine): void {
  shared = engine;
}
