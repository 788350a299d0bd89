import { stat as fsStat, mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { EventHub, redactUrl, rng, StreamsError, world } from '@streams/core';
import { type Compression, compressionOf, decompressFile } from './decompress.js';
import type {
  DownloadOptions,
  DownloadResult,
  EngineCounters,
  ReadOptions,
} from './downloadOptions.js';
import { byUrl, type Driver, type ListEntry, type ObjectStat } from './driver.js';
import { existingFile } from './existingFile.js';
import { parseHash } from './integrity.js';
import { commitRename, fsyncPath, tempPathFor } from './landing.js';
import { parseObjectUrl } from './objectUrl.js';
import { type PrefetchOptions, PrefetchQueue } from './prefetchQueue.js';
import { getDriver } from './registry.js';
import { RetryPolicy } from './retryPolicy.js';
import { Transfer } from './transfer.js';
import { type FileAttempt, readState, type TransferState } from './transferState.js';

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
  private readonly retries: RetryPolicy;
  private readonly transfer: Transfer;
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
    this.retries = new RetryPolicy(
      this.o,
      rng(options.seed ?? Date.now(), 'downloader.backoff'),
      this.counters,
      this.events,
    );
    this.transfer = new Transfer(this.o, this.counters, this.retries);
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
    return this.retries.hostGate(url).limit;
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
      const kept = await existingFile(codec ? codec.out : dest, codec ? {} : options, expected);
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
    let res: FileAttempt & { attempt: number };
    try {
      const parts =
        options.size !== undefined &&
        options.size >= this.o.multipartThreshold &&
        options.size > this.o.partSize;
      res = await this.retries.run(
        driver,
        'GET',
        url,
        options.signal,
        async (signal, attempt, received) => {
          const r = parts
            ? await this.transfer.parts(driver, url, state, signal, expected)
            : await this.transfer.toFile(
                driver,
                url,
                state,
                signal,
                expected,
                received,
                codec ? 0 : (options.keepBytes ?? 0),
              );
          return { ...r, attempt };
        },
      );
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
    } else if (res.tmp !== dest) {
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
      synced: this.o.fsync,
      body: res.body,
    };
  }

  /** A queue that downloads in plan order with `depth` downloads in flight (see {@link PrefetchQueue}). */
  prefetch(options: PrefetchOptions = {}): PrefetchQueue {
    return new PrefetchQueue(this, options);
  }

  /** Reads an object (or `offset`/`length` of it) into memory, with the engine's retries and limits. */
  async read(url: string, options: ReadOptions = {}): Promise<Uint8Array> {
    const driver = this.driverFor(url);
    // Kept across attempts: a read cut mid-body resumes with a range read of the rest.
    const state = readState(options.offset, options.length, options.expectedSize);
    return this.retries.run(driver, 'GET', url, options.signal, (signal) =>
      this.transfer.toMemory(driver, url, state, signal),
    );
  }

  /** `stat` with retries. */
  stat(url: string, options: { signal?: AbortSignal | undefined } = {}): Promise<ObjectStat> {
    const driver = this.driverFor(url);
    return this.retries.run(driver, 'HEAD', url, options.signal, (signal) =>
      driver.stat(url, { signal }),
    );
  }

  /** `exists` with retries. */
  exists(url: string, options: { signal?: AbortSignal | undefined } = {}): Promise<boolean> {
    const driver = this.driverFor(url);
    return this.retries.run(driver, 'HEAD', url, options.signal, (signal) =>
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
      return this.retries.run(
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
      const page = await this.retries.run(
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
