// What the formats whose shards are plain files share (WebDataset tars, JSONL and CSV shards): one
// unit per file, whose sample count is learned by reading it.
import { StreamsError } from '@streams/core';
import type { ByteSource } from '../byteSource.js';
import { LocalByteSource } from '../localByteSource.js';
import { resolveShardUrls } from '../shardList.js';
import { basenameUrl, isRemoteUrl } from '../urls.js';
import { openCountMemo } from './countMemo.js';
import type {
  DatasetColumn,
  FormatDataset,
  FormatOpenOptions,
  FormatUnit,
  LoadedUnit,
  Sample,
  UnitOptions,
} from './format.js';

/** One unit per shard file; counts unknown until read. */
export function fileUnits(urls: readonly string[]): FormatUnit[] {
  return urls.map((url) => ({
    name: basenameUrl(url),
    samples: undefined,
    bytes: undefined,
    files: [{ url }],
  }));
}

/** Resolves a shard spec (file, pattern, directory, list file) into units. */
export async function shardUnits(
  spec: string,
  accept: RegExp,
  o: FormatOpenOptions,
): Promise<FormatUnit[]> {
  return fileUnits(await resolveShardUrls(spec, o.source, accept, o.signal, o.allowUrls));
}

/**
 * Runs `read` on the node-cache entry of a remote shard (downloaded into the cache on a miss, and
 * pinned meanwhile), so that a count leaves the shard where its first load finds it: one download,
 * not one to count and one to load. `read` gets the entry's path and handles of its own, closed
 * before the pin goes (an evicted file kept open would hold its disk space past the cache's
 * budget). Undefined, `read` not run, for a local shard, a source with no cache, or a shard the
 * cache cannot hold.
 */
export async function readCachedShard<T>(
  source: ByteSource,
  url: string,
  signal: AbortSignal | undefined,
  read: (file: LocalByteSource, path: string) => Promise<T>,
): Promise<T | undefined> {
  if (!isRemoteUrl(url) || !source.pinCurrent) return undefined;
  const pinned = await source.pinCurrent(url, { signal });
  if (!pinned) return undefined;
  const file = new LocalByteSource({ maxHandles: 1 });
  try {
    return await read(file, pinned.path);
  } finally {
    await file.close();
    await pinned.release();
  }
}

/** Samples held in memory after a whole shard was parsed. */
export class LoadedSamples implements LoadedUnit {
  constructor(
    readonly items: readonly Sample[],
    readonly memoryBytes: number,
    readonly hit: boolean,
  ) {}
  get samples(): number {
    return this.items.length;
  }
  decode(j: number): Sample {
    // A copy: a consumer may change the sample it got, the unit stays as read.
    return { ...(this.items[j] as Sample) };
  }
  async release(): Promise<void> {}
}

/**
 * The shared shape of a dataset of shard files: counting reads each unit's stream once, and the
 * columns grow as samples are read (these formats have no schema).
 */
export abstract class ShardFileDataset implements FormatDataset {
  abstract readonly format: string;
  readonly columns: DatasetColumn[] = [];
  /** Stored bytes when the index gives every unit's size (a wids shard index), else undefined. */
  readonly totalBytes: number | undefined;
  /**
   * What declared the units' counts, when an index did (`shardindex.json`): a load that finds
   * another count says so, instead of "the file changed".
   */
  protected declaredBy: string | undefined;

  constructor(
    readonly url: string,
    readonly units: FormatUnit[],
    readonly source: ByteSource,
  ) {
    this.totalBytes = units.every((u) => u.bytes !== undefined)
      ? units.reduce((a, u) => a + (u.bytes ?? 0), 0)
      : undefined;
  }

  /** The samples of unit k, read front to back. */
  abstract stream(k: number, options?: UnitOptions): AsyncIterable<Sample>;
  abstract load(k: number, options?: UnitOptions): Promise<LoadedUnit>;

  /** The file of unit k. */
  protected fileOf(k: number): string {
    const u = this.units[k];
    if (!u)
      throw new StreamsError(
        'STREAMS_INVALID_ARGUMENT',
        `[streams/index] unit ${k} is outside the dataset's ${this.units.length} shards`,
        { url: this.url, fix: `ask for a unit in [0, ${this.units.length})` },
      );
    return u.files[0]?.url as string;
  }

  /** Notes the columns of a sample read (the first type seen names a column). */
  protected note(s: Sample): void {
    for (const k of Object.keys(s)) this.#noteColumn(k, columnType(k, s[k]));
  }

  #noteColumn(name: string, type: string): void {
    if (!this.columns.some((c) => c.name === name)) this.columns.push({ name, type });
  }

  /**
   * The samples of every unit: counted by reading the units, or remembered from an earlier count
   * of the same files ({@link openCountMemo}).
   */
  async count(options: UnitOptions = {}): Promise<number> {
    const open = this.units.some((u) => u.samples === undefined);
    const memo = open
      ? await openCountMemo(this.source, this.format, this.units, options.signal)
      : undefined;
    for (const c of memo?.columns ?? []) this.#noteColumn(c.name, c.type);
    let total = 0;
    let counted = false;
    for (let k = 0; k < this.units.length; k++) {
      const u = this.units[k] as FormatUnit;
      if (u.samples === undefined) {
        u.samples = memo?.samples(k);
        if (u.samples === undefined) {
          u.samples = await this.countUnit(k, options);
          counted = true;
        }
      }
      total += u.samples;
    }
    if (counted) await memo?.save(this.units, this.columns);
    return total;
  }

  /**
   * Checks a loaded unit's sample count against the count the dataset was opened with: a file
   * that changed since would shift every later sample's place in the epoch.
   */
  protected checkLoaded(k: number, samples: number): void {
    const u = this.units[k];
    if (!u) return;
    if (u.samples !== undefined && u.samples !== samples && this.declaredBy !== undefined)
      throw new StreamsError(
        'STREAMS_SHARD_CORRUPT',
        `[streams/index] ${u.name} holds ${samples} samples, ${this.declaredBy} says ${u.samples}`,
        {
          url: this.fileOf(k),
          fix: `write ${this.declaredBy} again from the shards (streams convert writes one), or restore the shard it describes`,
        },
      );
    if (u.samples !== undefined && u.samples !== samples)
      throw new StreamsError(
        'STREAMS_SHARD_CORRUPT',
        `[streams/index] ${u.name} holds ${samples} samples, ${u.samples} when the dataset was opened: the file changed`,
        {
          url: this.fileOf(k),
          fix: 'reopen the dataset, or stop rewriting its shards while it is read',
        },
      );
    u.samples = samples;
  }

  /** The samples of unit k, counted by reading it (a format may count without decoding). */
  protected async countUnit(k: number, options: UnitOptions): Promise<number> {
    let n = 0;
    for await (const _ of this.stream(k, options)) n++;
    return n;
  }

  async close(): Promise<void> {}
}

function columnType(name: string, v: unknown): string {
  if (name.startsWith('__')) return 'str';
  if (v instanceof Uint8Array) return 'bytes';
  if (v === null) return 'null';
  return Array.isArray(v) ? 'array' : typeof v;
}
