import {
  closeSync,
  fdatasyncSync,
  fstatSync,
  ftruncateSync,
  openSync,
  readSync,
  renameSync,
  statSync,
  writeSync,
} from 'node:fs';
import type { JournalOp } from './cacheState.js';

/** What {@link Journal.catchUp} found. */
export interface CatchUp {
  /** The file was replaced (compaction) or created: the ops start with a snapshot, rebuild from them. */
  reset: boolean;
  ops: JournalOp[];
  /** A torn last line (its writer died mid-write) was cut off. */
  torn: boolean;
  /** Lines that did not parse and were skipped. */
  corrupt: number;
  /** The file did not exist. */
  missing: boolean;
}

/**
 * The append-only journal of cache operations, one JSON object per line. Only the holder of the
 * cache lock reads or writes it, so appends need no further coordination. Each process remembers
 * the inode and offset it has read up to and, on every lock, reads only what others appended.
 * Compaction writes a one-line snapshot to a new file and renames it over the journal; the inode
 * change tells the other processes to re-read from the start.
 */
export class Journal {
  private fd: number | undefined;
  private ino = -1;
  private offset = 0;

  constructor(readonly path: string) {}

  /** Bytes in the journal (as far as this process has read). */
  get size(): number {
    return this.offset;
  }

  /**
   * Reads what was appended since the last call. Under the lock, a torn last line is cut off; with
   * `lockless` (a reader that does not hold the lock) it is left alone, since its writer may be
   * live and mid-write, and only complete lines are consumed.
   */
  catchUp(lockless = false): CatchUp {
    let st: { ino: number; size: number };
    try {
      st = statSync(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      this.closeFd();
      return { reset: true, ops: [], torn: false, corrupt: 0, missing: true };
    }
    let reset = false;
    if (this.fd === undefined || st.ino !== this.ino || st.size < this.offset) {
      this.closeFd();
      this.fd = openSync(this.path, 'r+');
      const fresh = fstatSync(this.fd);
      this.ino = fresh.ino;
      st = fresh;
      this.offset = 0;
      reset = true;
    }
    const length = st.size - this.offset;
    if (length === 0) return { reset, ops: [], torn: false, corrupt: 0, missing: false };
    const buf = Buffer.allocUnsafe(length);
    let got = 0;
    while (got < length) {
      const n = readSync(this.fd, buf, got, length - got, this.offset + got);
      if (n === 0) break;
      got += n;
    }
    const end = buf.lastIndexOf(10, got - 1); // last '\n'
    const complete = end + 1;
    let torn = false;
    if (complete < got && !lockless) {
      // Everything is written under the lock we hold, so an unterminated line is the remains of a
      // holder that died mid-write: cut it off before anyone appends after it.
      ftruncateSync(this.fd, this.offset + complete);
      torn = true;
    }
    const ops: JournalOp[] = [];
    let corrupt = 0;
    let start = 0;
    while (start < complete) {
      const nl = buf.indexOf(10, start);
      const line = buf.toString('utf8', start, nl);
      start = nl + 1;
      if (line.length === 0) continue;
      try {
        ops.push(JSON.parse(line) as JournalOp);
      } catch {
        corrupt++;
      }
    }
    this.offset += complete;
    return { reset, ops, torn, corrupt, missing: false };
  }

  /** Appends ops; with `durable`, waits until they are on disk (fdatasync). */
  append(ops: readonly JournalOp[], durable: boolean): void {
    if (this.fd === undefined) throw new Error('[streams/cache] journal is not open');
    let text = '';
    for (const op of ops) text += `${JSON.stringify(op)}\n`;
    const buf = Buffer.from(text, 'utf8');
    let done = 0;
    while (done < buf.length)
      done += writeSync(this.fd, buf, done, buf.length - done, this.offset + done);
    this.offset += buf.length;
    if (durable) fdatasyncSync(this.fd);
  }

  /** Replaces the journal by a single snapshot line, atomically (write, fsync, rename). */
  rewrite(snapshot: JournalOp, durable: boolean): void {
    const tmp = `${this.path}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      const buf = Buffer.from(`${JSON.stringify(snapshot)}\n`, 'utf8');
      let done = 0;
      while (done < buf.length) done += writeSync(fd, buf, done, buf.length - done, done);
      if (durable) fdatasyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
    this.closeFd();
    this.fd = openSync(this.path, 'r+');
    const st = fstatSync(this.fd);
    this.ino = st.ino;
    this.offset = st.size;
  }

  /** Forgets what was read: the next {@link catchUp} starts from the beginning of the file. */
  forget(): void {
    this.closeFd();
  }

  /** Closes the file descriptor. */
  close(): void {
    this.closeFd();
  }

  private closeFd(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.ino = -1;
    this.offset = 0;
  }
}
