import { randomBytes } from 'node:crypto';
import { open, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

const tempTag = randomBytes(6).toString('hex');
let tempSerial = 0;

const PART = /^\..+\.(\d+)\.[0-9a-f]+\.part$/;

/**
 * A temporary path next to `dest` (same directory, so the final rename is atomic). Its name
 * carries our pid, so {@link sweepPartialFiles} can tell abandoned files from live ones.
 */
export function tempPathFor(dest: string): string {
  // A random tag drawn once per process plus a counter: unique within the process without a
  // call into crypto per small object, and unlikely to meet a leftover of an earlier process
  // that had the same pid.
  tempSerial++;
  return join(
    dirname(dest),
    `.${basename(dest)}.${process.pid}.${tempTag}${tempSerial.toString(16)}.part`,
  );
}

/** fsyncs a file by path. */
export async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Renames `tmp` over `dest`, then fsyncs the directory so the rename survives a crash. */
export async function commitRename(tmp: string, dest: string, doFsync: boolean): Promise<void> {
  await rename(tmp, dest);
  if (!doFsync) return;
  try {
    await fsyncPath(dirname(dest));
  } catch {
    // Some file systems refuse fsync on directories; the rename itself is still atomic.
  }
}

/**
 * Removes temporary files left in `dir` by processes that died mid-download (kill -9, power
 * loss). Files of live processes are kept. Returns the removed names.
 */
export async function sweepPartialFiles(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = PART.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid !== process.pid && isAlive(pid)) continue;
    if (pid === process.pid) continue;
    await rm(join(dir, name), { force: true });
    removed.push(name);
  }
  return removed;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === 'EPERM';
  }
}
