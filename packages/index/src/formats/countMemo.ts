// Sample counts of shard files remembered in the node cache. WebDataset tars and JSONL/CSV shards
// have no index, so opening a dataset of them reads every shard once to count its samples (for a
// remote dataset, that is every byte of it); reopening the same files reads one small cache entry
// instead. A file is the same when its version is: size and modification time for a local file,
// size and ETag (or generation, or last-modified time) for a remote object.
import { createHash } from 'node:crypto';
import { throwIfAborted } from '@streams/core';
import type { ByteSource } from '../byteSource.js';
import type { DatasetColumn, FormatUnit } from './format.js';

interface Stored {
  v: 1;
  units: Record<string, { version: string; samples: number }>;
  columns: DatasetColumn[];
}

/** The remembered counts of one dataset's shard files, and a way to store new ones. */
export interface CountMemo {
  /** Columns learned when the counts were stored. */
  columns: readonly DatasetColumn[];
  /** The remembered count of unit k when its file has not changed since. */
  samples(k: number): number | undefined;
  /** Stores the counts now known (best effort: a failure only costs a recount next time). */
  save(units: readonly FormatUnit[], columns: readonly DatasetColumn[]): Promise<void>;
}

/** The count memo of `units` of a `format`, or undefined when the source keeps no memos. */
export async function openCountMemo(
  source: ByteSource,
  format: string,
  units: readonly FormatUnit[],
  signal?: AbortSignal,
): Promise<CountMemo | undefined> {
  const { memo, version } = source;
  if (!memo || !version || units.length === 0) return undefined;
  const urls = units.map((u) => u.files[0]?.url as string);
  const digest = createHash('sha256')
    .update(`${format}\n${urls.join('\n')}`)
    .digest('hex');
  const key = `memo/counts/${digest.slice(0, 32)}.json`;
  let versions: (string | undefined)[];
  let stored: Stored | undefined;
  try {
    [versions, stored] = await Promise.all([
      Promise.all(urls.map((u) => version.call(source, u, { signal }))),
      memo.get(key, { signal }).then((b) => (b ? parse(b) : undefined)),
    ]);
  } catch (e) {
    throwIfAborted(signal);
    if (e instanceof Error && e.name === 'AbortError') throw e;
    return undefined; // no memo: count as without one (the count reports what is wrong)
  }
  return {
    columns: stored?.columns ?? [],
    samples(k) {
      const s = stored?.units[urls[k] as string];
      return s !== undefined && versions[k] !== undefined && s.version === versions[k]
        ? s.samples
        : undefined;
    },
    async save(now, columns) {
      const out: Stored = { v: 1, units: {}, columns: [...columns] };
      now.forEach((u, k) => {
        const v = versions[k];
        if (u.samples !== undefined && v !== undefined)
          out.units[urls[k] as string] = { version: v, samples: u.samples };
      });
      try {
        await memo.put(key, new TextEncoder().encode(JSON.stringify(out)), { signal });
      } catch {
        throwIfAborted(signal);
      }
    },
  };
}

function parse(bytes: Uint8Array): Stored | undefined {
  try {
    const s = JSON.parse(new TextDecoder().decode(bytes)) as Stored;
    return s?.v === 1 && s.units && Array.isArray(s.columns) ? s : undefined;
  } catch {
    return undefined; // a damaged memo is no memo
  }
}
