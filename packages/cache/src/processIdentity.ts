import { readFileSync } from 'node:fs';

/**
 * Who owns a lock, a pin or a claim: a process id plus, on Linux, the process start time in clock
 * ticks since boot (field 22 of /proc/<pid>/stat). The pair survives pid reuse: a new process that
 * happens to get a dead owner's pid has another start time.
 */
export interface ProcessIdentity {
  pid: number;
  /** Start time from /proc, or 0 where /proc is missing (then only the pid is checked). */
  start: number;
}

/** Reads a process start time from /proc/<pid>/stat; undefined when the process does not exist. */
export function processStartTime(pid: number): number | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may itself contain spaces and ')'.
  const tail = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // tail[0] is field 3 (state), so field 22 (starttime) is tail[19].
  const start = Number(tail[19]);
  const state = tail[0];
  if (state === 'Z' || state === 'X') return undefined; // a zombie is dead for our purposes
  return Number.isFinite(start) ? start : undefined;
}

const hasProc = (() => {
  try {
    readFileSync('/proc/self/stat');
    return true;
  } catch {
    return false;
  }
})();

let self: ProcessIdentity | undefined;

/** The identity of the current process. */
export function selfIdentity(): ProcessIdentity {
  self ??= { pid: process.pid, start: hasProc ? (processStartTime(process.pid) ?? 0) : 0 };
  return self;
}

/** True when the process named by `id` still runs (same pid and, on Linux, same start time). */
export function isProcessAlive(id: ProcessIdentity): boolean {
  const me = selfIdentity();
  if (id.pid === me.pid && id.start === me.start) return true;
  if (hasProc) {
    const start = processStartTime(id.pid);
    if (start === undefined) return false;
    return id.start === 0 || start === id.start;
  }
  try {
    process.kill(id.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Formats an identity as `pid.start`, the prefix of owner ids and lock contents. */
export function formatIdentity(id: ProcessIdentity): string {
  return `${id.pid}.${id.start}`;
}

/** Parses the `pid.start` prefix of an owner id or lock content; undefined when malformed. */
export function parseIdentity(text: string): ProcessIdentity | undefined {
  const m = /^(\d+)\.(\d+)(?:\.|$)/.exec(text);
  if (!m) return undefined;
  return { pid: Number(m[1]), start: Number(m[2]) };
}
