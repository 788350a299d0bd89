import { existsSync, lstatSync, readdirSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { type CacheCore, unlinkQuiet } from './cacheCore.js';
import { ownerOfTemp } from './tempNames.js';

// Crash recovery, run under the lock: what dead processes left behind (claims, pins, temp files,
// lock tokens) and disagreements between the journal and the files in data/.

/**
 * Rebuilds the state against the disk: drops dead processes, deletes temp files nobody live is
 * writing, deletes files without a record, drops records whose file is missing or has another
 * size, then compacts. Afterwards usage equals the bytes on disk exactly.
 */
export function recover(core: CacheCore, reason: string): void {
  const started = performance.now();
  reapDeadOwners(core);
  removeStrayTemps(core);
  const files = scanData(core);
  const drop: string[] = [];
  let removedFiles = 0;
  for (const entry of core.state.entries.values()) {
    const st = files.get(entry.file);
    files.delete(entry.file);
    if (st?.isFile() && st.size === entry.size) continue;
    drop.push(entry.key);
    if (st) unlinkQuiet(join(core.dataDir, entry.file));
  }
  if (drop.length > 0) core.record(drop.map((k) => ({ o: 'evict', k }) as const));
  for (const file of files.keys()) {
    unlinkQuiet(join(core.dataDir, file));
    removedFiles++;
  }
  core.compact();
  core.emit('info', 'cache.recover', {
    durationMs: performance.now() - started,
    counters: { droppedRecords: drop.length, removedFiles, entries: core.state.entries.size },
    attrs: { reason },
  });
}

/** All files under data/, by path relative to data/ (symlinks and junk are deleted on sight). */
export function scanData(core: CacheCore): Map<string, Stats> {
  const out = new Map<string, Stats>();
  for (const name of readdirSync(core.dataDir)) {
    const sub = join(core.dataDir, name);
    const st = lstatSync(sub);
    if (!st.isDirectory() || !/^[0-9a-f]{2}$/.test(name)) {
      if (!st.isDirectory()) unlinkQuiet(sub);
      continue;
    }
    for (const file of readdirSync(sub)) {
      const fst = lstatSync(join(sub, file));
      out.set(`${name}/${file}`, fst);
    }
  }
  return out;
}

/** Deletes temp files whose owner holds no live claim on them, and lock tokens of dead owners. */
export function removeStrayTemps(core: CacheCore): void {
  const tokens = join(core.dir, 'owners');
  for (const name of existsSync(tokens) ? readdirSync(tokens) : []) {
    if (name !== core.owner && !core.isAlive(name)) unlinkQuiet(join(tokens, name));
  }
  const claimed = new Set<string>();
  for (const claim of core.state.claims.values()) claimed.add(claim.tmp);
  const owners = core.state.allOwners();
  for (const name of readdirSync(core.tmpDir)) {
    if (claimed.has(name)) continue;
    // Files a live filler made next to its tmpPath (e.g. `<tmpPath>.part`) stay while it runs.
    const owner = ownerOfTemp(name);
    if (owner !== undefined && owner !== core.owner && owners.has(owner) && core.isAlive(owner))
      continue;
    unlinkQuiet(join(core.tmpDir, name));
  }
}

/** Drops the pins, claims and registrations of every owner that is no longer alive. */
export function reapDeadOwners(core: CacheCore): void {
  for (const owner of core.state.allOwners()) if (!core.isAlive(owner)) reapOwner(core, owner);
}

/** Drops one dead owner: its claims' temp files go, and a `close` record frees the rest. */
export function reapOwner(core: CacheCore, owner: string): void {
  for (const claim of core.state.claims.values())
    if (claim.owner === owner) unlinkQuiet(join(core.tmpDir, claim.tmp));
  core.record([{ o: 'close', w: owner }]);
  core.emit('warning', 'cache.reap', { attrs: { owner, reason: 'process is gone' } });
}
