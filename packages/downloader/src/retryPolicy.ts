import {
  type EventHub,
  isAbortError,
  isStreamsError,
  type Rng,
  redactUrl,
  StreamsError,
  type StreamsErrorCode,
  signalReason,
  sleep,
  throwIfAborted,
} from '@streams/core';
import { ConcurrencyLimiter } from './concurrencyLimiter.js';
import type { EngineCounters } from './downloadOptions.js';
import { type Driver, describeCause, TransferError } from './driver.js';
import { parseObjectUrl } from './objectUrl.js';

/** The limits and backoff of a {@link RetryPolicy}. */
export interface RetryLimits {
  /** Transfers in flight in this process, over all hosts. */
  concurrency: number;
  /** Transfers in flight per host or bucket (AIMD-adapted). */
  perHost: number;
  maxAttempts: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  attemptTimeoutMs: number;
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
 * When and how often the engine tries: a process-wide and a per-host concurrency limit (the
 * host's adapts to throttling), a time limit per attempt, and exponential backoff with full
 * jitter between attempts of transient failures. Reports retries, throttles and final failures
 * as events.
 */
export class RetryPolicy {
  /** The process-wide limit. */
  readonly global: ConcurrencyLimiter;
  private readonly hosts = new Map<string, ConcurrencyLimiter>();

  constructor(
    private readonly limits: RetryLimits,
    private readonly jitter: Rng,
    private readonly counters: EngineCounters,
    private readonly events: EventHub,
  ) {
    this.global = new ConcurrencyLimiter(limits.concurrency);
  }

  /** The limit of the host (or bucket) of `url`. */
  hostGate(url: string): ConcurrencyLimiter {
    const key = hostOf(url);
    let gate = this.hosts.get(key);
    if (!gate) {
      gate = new ConcurrencyLimiter(this.limits.perHost);
      this.hosts.set(key, gate);
    }
    return gate;
  }

  /**
   * Runs `fn` under the host and global limits with a fresh per-attempt signal, retrying
   * transient failures with exponential backoff and full jitter. `fn` may call `done` once the
   * network part of its attempt is over (the body received): the slots go to the next request
   * while it finishes on disk.
   */
  async run<T>(
    driver: Driver,
    op: string,
    url: string,
    userSignal: AbortSignal | undefined,
    fn: (signal: AbortSignal, attempt: number, done: () => void) => Promise<T>,
    countFailure = true,
  ): Promise<T> {
    const { maxAttempts, attemptTimeoutMs, backoffBaseMs, backoffMaxMs } = this.limits;
    const host = this.hostGate(url);
    // Only failures and retries report the URL: redact it (a URL parse) only then.
    let redacted: string | undefined;
    const safe = () => {
      redacted ??= redactUrl(url);
      return redacted;
    };
    // A body that disagreed with the size or digest asked for, from any attempt: the reason to
    // report, should a later attempt fail otherwise (a network fault is not the object's problem).
    let mismatch: unknown;
    for (let attempt = 1; ; attempt++) {
      let delayMs = 0;
      throwIfAborted(userSignal);
      // Host first: a throttled host must not hold global slots while it waits.
      let releaseHost: (() => void) | undefined = await host.acquire(userSignal);
      let releaseGlobal: (() => void) | undefined;
      const done = () => {
        if (releaseGlobal) {
          this.counters.inFlight--;
          releaseGlobal();
          releaseGlobal = undefined;
        }
        releaseHost?.();
        releaseHost = undefined;
      };
      const attemptCtl = new AbortController();
      let timer: NodeJS.Timeout | undefined;
      let unlink: (() => void) | undefined;
      try {
        releaseGlobal = await this.global.acquire(userSignal);
        this.counters.inFlight++;
        if (Number.isFinite(attemptTimeoutMs))
          timer = setTimeout(
            () =>
              attemptCtl.abort(
                new TransferError(
                  'STREAMS_TIMEOUT',
                  `attempt timed out after ${attemptTimeoutMs} ms`,
                  {
                    retryable: true,
                  },
                ),
              ),
            attemptTimeoutMs,
          );
        // Linked by hand: AbortSignal.any() on a long-lived queue signal piles up dependants.
        if (userSignal) {
          unlink = () => attemptCtl.abort(userSignal.reason);
          userSignal.addEventListener('abort', unlink, { once: true });
        }
        const signal = attemptCtl.signal;
        const value = await fn(signal, attempt, done);
        host.succeed();
        return value;
      } catch (raw) {
        if (userSignal?.aborted) throw signalReason(userSignal);
        const err = attemptCtl.signal.aborted && isAbortError(raw) ? attemptCtl.signal.reason : raw;
        const t = err instanceof TransferError ? err : undefined;
        const retryable = t ? t.retryable : isTransient(err);
        if (isMismatch(err)) mismatch = err;
        if (!retryable || attempt >= maxAttempts) {
          if (countFailure) this.counters.failed++;
          const final =
            retryable && mismatch !== undefined && !isMismatch(err)
              ? finalError(driver, op, url, mismatch, attempt, true, err)
              : finalError(driver, op, url, err, attempt, retryable);
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
        const ceiling = Math.min(backoffMaxMs, backoffBaseMs * 2 ** (attempt - 1));
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
        done();
      }
      await sleep(delayMs, { signal: userSignal });
    }
  }
}

/** A complete body that was not what the caller declared (its size or its digest). */
function isMismatch(err: unknown): boolean {
  return (
    isStreamsError(err, 'STREAMS_SIZE_MISMATCH') || isStreamsError(err, 'STREAMS_HASH_MISMATCH')
  );
}

/**
 * The error a transfer ends with after `attempts`: `err`, or, when an earlier attempt's mismatch
 * is reported in place of a different last failure, that mismatch with the `last` one named.
 */
function finalError(
  driver: Driver,
  op: string,
  url: string,
  err: unknown,
  attempts: number,
  retryable: boolean,
  last?: unknown,
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
    `[streams/downloader] [${driver.name}] ${op} ${url} failed after ${attempts} attempts${status}: ${reasonOf(err)}${last === undefined ? '' : ` (the last attempt: ${reasonOf(last)})`}`,
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

function hostOf(url: string): string {
  const { scheme, url: parsed } = parseObjectUrl(url);
  return `${scheme}://${parsed.host}`;
}
