import { closeSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { type Rng, rng, sleep, throwIfAborted } from '@streams/core';
import { isProcessAlive, parseIdentity } from './processIdentity.js';

/** A lock file whose content is torn (its creator died between open and write) after this long. */
const TORN_LOCK_MS = 5_000;

/**
 * A mutex between processes made of one file created with O_CREAT|O_EXCL. The file holds the
 * owner id (`pid.start.nonce`); a lock whose owner process is dead (or whose pid now belongs to a
 * process with another start time) is stale and is broken. Breaking is itself guarded by a second
 * O_EXCL file (`<path>.break`) so that two processes breaking the same stale lock cannot delete a
 * lock that a third process has just taken.
 *
 * Every file operation here is synchronous: they are a handful of metadata syscalls on a local
 * disk, and a synchronous critical section cannot interleave with other work of this process.
 */
export class DirLock {
  private readonly content: string;
  private readonly breakPath: string;
  private readonly jitter: Rng;
  private held = false;
  /** Set when this lock broke a stale lock: the dead holder may have left the state half-written. */
  brokeStale = false;

  constructor(
    readonly path: string,
    readonly owner: string,
  ) {
    this.content = `${owner}\n`;
    this.breakPath = `${path}.break`;
    this.jitter = rng(process.pid, 'cache-lock-backoff');
  }

  /** Takes the lock if it is free (or stale); never waits. */
  tryAcquire(): boolean {
    if (this.held) throw new Error('[streams/cache] DirLock is not reentrant');
    for (let attempt = 0; attempt < 2; attempt++) {
      if (createExclusive(this.path, this.content)) {
        this.held = true;
        return true;
      }
      const current = readOrUndefined(this.path);
      if (current === undefined) continue; // released between our open and read: try again now
      if (!this.isStale(this.path, current)) return false;
      this.breakStale(current);
    }
    return false;
  }

  /** Takes the lock, polling with a short jittered backoff while another live process holds it. */
  async acquire(signal?: AbortSignal): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      throwIfAborted(signal);
      if (this.tryAcquire()) return;
      if (attempt < 4) await new Promise((resolve) => setImmediate(resolve));
      else await sleep(1 + this.jitter.int(Math.min(2 ** (attempt - 4), 8)), { signal });
    }
  }

  /** Releases the lock (only its holder calls this). */
  release(): void {
    if (!this.held) return;
    this.held = false;
    try {
      unlinkSync(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  /** The owner id recorded in a lock file's content. */
  static ownerOf(content: string): string | undefined {
    return content.endsWith('\n') ? content.slice(0, -1) : undefined;
  }

  private isStale(path: string, content: string): boolean {
    const owner = DirLock.ownerOf(content);
    if (owner === undefined) {
      // Torn write: the creator is between open() and write(), or died there.
      try {
        return Date.now() - statSync(path).mtimeMs > TORN_LOCK_MS;
      } catch {
        return false;
      }
    }
    const id = parseIdentity(owner);
    return id === undefined || !isProcessAlive(id);
  }

  private breakStale(stale: string): void {
    if (!createExclusive(this.breakPath, this.content)) {
      // Another process is breaking it. If that breaker died mid-break, remove its token; the
      // window for this second-order race is a few syscalls of a process that then got killed.
      const breaker = readOrUndefined(this.breakPath);
      if (breaker !== undefined && this.isStale(this.breakPath, breaker))
        unlinkQuiet(this.breakPath);
      return;
    }
    try {
      // Re-read under the break token: only the exact stale content is removed, never a lock
      // that a live process took after we first looked.
      if (readOrUndefined(this.path) === stale) {
        unlinkQuiet(this.path);
        this.brokeStale = true;
      }
    } finally {
      unlinkQuiet(this.breakPath);
    }
  }
}

function createExclusive(path: string, content: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
  return true;
}

function readOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
