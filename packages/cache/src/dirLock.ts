import {
  closeSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { type Rng, rng, sleep, throwIfAborted } from '@streams/core';
import { isProcessAlive, parseIdentity } from './processIdentity.js';

/** A lock file whose content is torn (its creator died between open and write) after this long. */
const TORN_LOCK_MS = 5_000;

/**
 * A mutex between processes made of one directory entry. Each owner first writes a token file
 * (`<tokenDir>/<owner>`, content: the owner id `pid.start.nonce`); taking the lock is `link(token,
 * lock)`, which fails with EEXIST while someone holds it, and releasing is `unlink(lock)`. A hard
 * link is two cheap metadata syscalls per lock cycle (creating a fresh file would cost an inode),
 * and the lock's content is complete from the first instant, so readers never see a torn owner.
 *
 * A lock whose owner process is dead (or whose pid now belongs to a process with another start
 * time) is stale and is broken. Breaking is guarded by a second link (`<path>.break`) so that two
 * processes breaking the same stale lock cannot delete a lock that a third one has just taken.
 *
 * Every file operation here is synchronous: they are a handful of metadata syscalls on a local
 * disk, and a synchronous critical section cannot interleave with other work of this process.
 */
export class DirLock {
  private readonly content: string;
  private readonly breakPath: string;
  private readonly token: string;
  private tokenReady = false;
  private readonly jitter: Rng;
  private held = false;
  /** Where hard links are refused (some FUSE and FAT-like filesystems): create the lock file instead. */
  private linkless: boolean;
  /** Set when this lock broke a stale lock: the dead holder may have left the state half-written. */
  brokeStale = false;

  constructor(
    readonly path: string,
    readonly owner: string,
    tokenDir: string,
    options: { linkless?: boolean } = {},
  ) {
    this.linkless = options.linkless ?? false;
    this.content = `${owner}\n`;
    this.breakPath = `${path}.break`;
    this.token = join(tokenDir, owner);
    this.jitter = rng(process.pid, 'cache-lock-backoff');
  }

  /** Removes this owner's token file (after its last use of the lock). */
  dispose(): void {
    if (this.held) this.release();
    unlinkQuiet(this.token);
    this.tokenReady = false;
  }

  /** Takes the lock if it is free (or stale); never waits. */
  tryAcquire(): boolean {
    if (this.held) throw new Error('[streams/cache] DirLock is not reentrant');
    this.prepareToken();
    for (let attempt = 0; attempt < 2; attempt++) {
      let linked: boolean;
      try {
        linked = this.take(this.path);
      } catch (err) {
        if (!isMissing(err)) throw err;
        // Our token (or the lock's directory) was deleted behind our back: make them again.
        this.tokenReady = false;
        mkdirSync(join(this.path, '..'), { recursive: true });
        this.prepareToken();
        linked = this.take(this.path);
      }
      if (linked) {
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

  /** Takes the lock, waiting (see {@link DirLock.pause}) while another live process holds it. */
  async acquire(signal?: AbortSignal): Promise<void> {
    const started = performance.now();
    for (let attempt = 0; ; attempt++) {
      throwIfAborted(signal);
      if (this.tryAcquire()) return;
      await this.pause(started, attempt, signal);
    }
  }

  /**
   * Waits before the next attempt: first by yielding to the event loop (critical sections last
   * tens of microseconds), after 2 ms with short jittered sleeps. (Waking waiters through
   * `fs.watch` on the lock directory was measured slower: every release wakes every waiter.)
   */
  async pause(started: number, attempt: number, signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    if (performance.now() - started < 2) await new Promise((resolve) => setImmediate(resolve));
    else await sleep(1 + this.jitter.int(Math.min(2 ** (attempt >> 4), 4)), { signal });
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

  /** Creates `path` as ours unless it exists: a hard link to our token, or a new file. */
  private take(path: string): boolean {
    if (!this.linkless) {
      try {
        return linkExclusive(this.token, path);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS')
          throw err;
        this.linkless = true;
      }
    }
    return createExclusive(path, this.content);
  }

  private prepareToken(): void {
    if (this.tokenReady) return;
    mkdirSync(join(this.token, '..'), { recursive: true });
    unlinkQuiet(this.token);
    if (!createExclusive(this.token, this.content))
      throw new Error(`[streams/cache] cannot create lock token ${this.token}`);
    this.tokenReady = true;
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
    if (!this.take(this.breakPath)) {
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

function linkExclusive(target: string, path: string): boolean {
  try {
    linkSync(target, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

const isMissing = (err: unknown) => (err as NodeJS.ErrnoException).code === 'ENOENT';

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
