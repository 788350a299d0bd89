import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DirLock } from './dirLock.js';
import { formatIdentity, isProcessAlive, selfIdentity } from './processIdentity.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'streams-lock-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** The pid of a real process that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(child.stdout.toString());
}

describe('DirLock', () => {
  it('is exclusive between holders and free again after release', () => {
    const path = join(dir, 'lock');
    const a = new DirLock(path, `${formatIdentity(selfIdentity())}.a`, join(dir, 'owners'));
    const b = new DirLock(path, `${formatIdentity(selfIdentity())}.b`, join(dir, 'owners'));
    expect(a.tryAcquire()).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe(`${a.owner}\n`);
    expect(b.tryAcquire()).toBe(false);
    a.release();
    expect(existsSync(path)).toBe(false);
    expect(b.tryAcquire()).toBe(true);
    b.release();
  });

  it('recreates its token when it was deleted behind its back', () => {
    const path = join(dir, 'lock');
    const a = new DirLock(path, `${formatIdentity(selfIdentity())}.a`, join(dir, 'owners'));
    expect(a.tryAcquire()).toBe(true);
    a.release();
    rmSync(join(dir, 'owners'), { recursive: true });
    expect(a.tryAcquire()).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe(`${a.owner}\n`);
    a.release();
    a.dispose();
    expect(existsSync(join(dir, 'owners', a.owner))).toBe(false);
  });

  it('works without hard links (lock files created with O_EXCL)', () => {
    const path = join(dir, 'lock');
    const a = new DirLock(path, `${formatIdentity(selfIdentity())}.a`, join(dir, 'owners'), {
      linkless: true,
    });
    const b = new DirLock(path, `${formatIdentity(selfIdentity())}.b`, join(dir, 'owners'), {
      linkless: true,
    });
    expect(a.tryAcquire()).toBe(true);
    expect(b.tryAcquire()).toBe(false);
    expect(readFileSync(path, 'utf8')).toBe(`${a.owner}\n`);
    a.release();
    expect(b.tryAcquire()).toBe(true);
    b.release();
    writeFileSync(path, `${deadPid()}.1.dead\n`);
    expect(a.tryAcquire()).toBe(true);
    expect(a.brokeStale).toBe(true);
    a.release();
  });

  it('breaks a lock left by a dead process', () => {
    const path = join(dir, 'lock');
    const pid = deadPid();
    expect(isProcessAlive({ pid, start: 0 })).toBe(false);
    writeFileSync(path, `${pid}.12345.x\n`);
    const lock = new DirLock(path, `${formatIdentity(selfIdentity())}.me`, join(dir, 'owners'));
    expect(lock.tryAcquire()).toBe(true);
    expect(lock.brokeStale).toBe(true);
    expect(existsSync(`${path}.break`)).toBe(false);
    lock.release();
  });

  it.runIf(process.platform === 'linux')(
    'treats a reused pid with another start time as dead',
    () => {
      const path = join(dir, 'lock');
      const me = selfIdentity();
      expect(me.start).toBeGreaterThan(0);
      writeFileSync(path, `${me.pid}.${me.start + 1}.old\n`);
      const lock = new DirLock(path, `${formatIdentity(me)}.me`, join(dir, 'owners'));
      expect(lock.tryAcquire()).toBe(true);
      expect(lock.brokeStale).toBe(true);
      lock.release();
    },
  );

  it('respects a live holder and a fresh torn lock, but breaks an old torn lock', async () => {
    const path = join(dir, 'lock');
    writeFileSync(path, `${process.ppid}.0.parent\n`); // alive: our parent
    const lock = new DirLock(path, `${formatIdentity(selfIdentity())}.me`, join(dir, 'owners'));
    expect(lock.tryAcquire()).toBe(false);
    const ac = new AbortController();
    const waiting = lock.acquire(ac.signal);
    ac.abort();
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError' });
    writeFileSync(path, ''); // torn: creator between open() and write()
    expect(lock.tryAcquire()).toBe(false);
    const old = new Date(Date.now() - 60_000);
    utimesSync(path, old, old);
    expect(lock.tryAcquire()).toBe(true);
    lock.release();
  });

  it('never deletes a live lock when a stale break token is present', () => {
    const path = join(dir, 'lock');
    writeFileSync(path, `${deadPid()}.1.dead\n`);
    writeFileSync(`${path}.break`, `${process.ppid}.0.breaker\n`); // a live breaker is at work
    const lock = new DirLock(path, `${formatIdentity(selfIdentity())}.me`, join(dir, 'owners'));
    expect(lock.tryAcquire()).toBe(false);
    expect(existsSync(path)).toBe(true);
    writeFileSync(`${path}.break`, `${deadPid()}.1.breaker\n`); // the breaker died
    expect(lock.tryAcquire()).toBe(false); // first call clears the dead token
    expect(lock.tryAcquire()).toBe(true);
    lock.release();
  });
});
