// WebDataset: tar shards (a tar, `.tar.gz`, a brace pattern, a wildcard, a directory or a list
// file), a tar is a unit. Loaded, a tar is held in memory with an index of where each sample's
// members are (one walk over its headers, wdsTarWalk.ts), so any sample is a slice of it (random
// access through member offsets). Counting at open walks the headers without decoding members, in
// windows of a file on disk: a local tar, or a remote tar downloaded into the node cache (one tar
// pinned at a time), so that its first load is a cache hit rather than a second download; a
// tar.gz is gunzipped as it is streamed from there. A remote tar is streamed and not kept only
// when there is no cache or the cache cannot hold it. The index of a plain tar is kept, within a
// bound, for its first load.
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { isStreamsError, StreamsError } from '@streams/core';
import { fetchMismatch } from '../fetchCheck.js';
import { isHashAlgorithm } from '../hashing.js';
import { basenameUrl, isRemoteUrl } from '../urls.js';
import type { WdsTarIndex } from '../wdsIndex.js';
import { indexFits, indexTarBytes, indexTarRanges } from '../wdsTarWalk.js';
import {
  isGzippedTar,
  tarMembers,
  type WebDatasetOptions,
  wdsGroups,
  wdsSampleOf,
} from '../webDataset.js';
import type {
  DatasetFormat,
  FormatDataset,
  FormatOpenOptions,
  FormatUnit,
  LoadedUnit,
  Sample,
  ShardFormat,
  UnitOptions,
} from './format.js';
import { readCachedShard, ShardFileDataset, shardUnits } from './shardFiles.js';

const gunzipAsync = promisify(gunzip);
const TAR = /\.(tar|tar\.gz|tgz)$/i;
/** Bytes of the indexes a dataset keeps from counting its tars until their first load. */
const COUNTED_INDEX_BYTES = 16 * 1024 * 1024;

/** A tar in memory: the members of sample j are views into its bytes, placed by its index. */
class LoadedTar implements LoadedUnit {
  constructor(
    private readonly index: WdsTarIndex,
    private readonly bytes: Uint8Array,
    private readonly url: string,
    private readonly options: WebDatasetOptions,
    readonly hit: boolean,
  ) {}
  get samples(): number {
    return this.index.samples;
  }
  get memoryBytes(): number {
    return this.bytes.byteLength;
  }
  decode(j: number): Sample {
    return this.index.sample(j, this.bytes, this.url, this.options);
  }
  async release(): Promise<void> {}
}

class WdsDataset extends ShardFileDataset {
  /** Indexes made by counting, until the tar's first load (at most COUNTED_INDEX_BYTES). */
  readonly #counted = new Map<number, { index: WdsTarIndex; bytes: number }>();
  #countedBytes = 0;

  constructor(
    url: string,
    units: ShardFileDataset['units'],
    private readonly o: FormatOpenOptions,
    readonly format: DatasetFormat = 'wds',
    declaredBy?: string,
  ) {
    super(url, units, o.source);
    this.declaredBy = declaredBy;
  }

  async *stream(k: number, options: UnitOptions = {}): AsyncGenerator<Sample> {
    const url = this.fileOf(k);
    const signal = options.signal ?? this.o.signal;
    for await (const g of wdsGroups(
      tarMembers(this.source.stream(url, { signal }), url, signal),
      url,
    )) {
      const s = wdsSampleOf(g, url, this.o);
      this.note(s);
      yield s;
    }
  }

  /** The bytes of tar k (gunzipped), and whether the cache had them. */
  async #bytes(k: number, signal?: AbortSignal): Promise<{ bytes: Uint8Array; hit: boolean }> {
    const url = this.fileOf(k);
    const size = this.units[k]?.bytes;
    const hash = this.#hashOf(k);
    const fetched = await this.source.fetch(url, { signal, size, hash });
    const bad = await fetchMismatch(fetched, size, hash);
    if (bad?.kind === 'size')
      throw new StreamsError(
        'STREAMS_SIZE_MISMATCH',
        `[streams/index] ${basenameUrl(url)} holds ${bad.actual} bytes, not the ${size} bytes the index says`,
        { url, fix: 'the file changed or the index is stale: rebuild the index' },
      );
    if (bad?.kind === 'hash')
      throw new StreamsError(
        'STREAMS_HASH_MISMATCH',
        `[streams/index] ${hash?.algorithm} of ${basenameUrl(url)} is ${bad.actual}, the index says ${hash?.digest}`,
        { url, fix: 'the tar is damaged or the index is stale: download or write it again' },
      );
    if (!isGzippedTar(url)) return { bytes: fetched.bytes, hit: fetched.hit };
    try {
      return { bytes: new Uint8Array(await gunzipAsync(fetched.bytes)), hit: fetched.hit };
    } catch (cause) {
      throw new StreamsError(
        'STREAMS_SHARD_CORRUPT',
        `[streams/index] cannot gunzip ${basenameUrl(url)}: ${(cause as Error).message}`,
        { url, cause, fix: 'the file is truncated or not gzip: download or write it again' },
      );
    }
  }

  /**
   * The digest tar k is checked against with `validateHashes` (an index that lists them: the wids
   * `md5sum`): the algorithm asked for, or with `true` the first one listed.
   */
  #hashOf(k: number): { algorithm: string; digest: string } | undefined {
    const v = this.o.validateHashes;
    // Tars counted from themselves have no index to list digests: nothing to check them against.
    if (v === undefined || v === false || this.declaredBy === undefined) return undefined;
    const hashes = this.units[k]?.files[0]?.hashes ?? {};
    const algorithm = typeof v === 'string' ? v : Object.keys(hashes).find(isHashAlgorithm);
    const digest = algorithm === undefined ? undefined : hashes[algorithm];
    if (algorithm === undefined || digest === undefined || !isHashAlgorithm(algorithm))
      throw new StreamsError(
        'STREAMS_INVALID_ARGUMENT',
        `[streams/index] validateHashes is set but the index lists no ${typeof v === 'string' ? `${v} ` : ''}hash for ${this.units[k]?.name ?? `unit ${k}`}`,
        {
          url: this.url,
          fix: 'open a shard index that lists hashes (WdsWriter writes md5sum), or drop validateHashes',
        },
      );
    return { algorithm, digest };
  }

  async load(k: number, options: UnitOptions = {}): Promise<LoadedUnit> {
    const url = this.fileOf(k);
    const signal = options.signal ?? this.o.signal;
    const { bytes, hit } = await this.#bytes(k, signal);
    // The index the count made, when it was kept and the tar is still the one it walked: the
    // tar's headers are not walked twice.
    const counted = this.#counted.get(k);
    if (counted !== undefined) {
      this.#counted.delete(k);
      this.#countedBytes -= counted.bytes;
    }
    const index =
      counted !== undefined && indexFits(counted.index, bytes)
        ? counted.index
        : indexTarBytes(bytes, url, signal);
    // Every member read is a view into the tar's bytes, nothing is copied.
    const loaded = new LoadedTar(index, bytes, url, this.o, hit);
    this.checkLoaded(k, index.samples);
    if (index.samples > 0) this.note(loaded.decode(0));
    return loaded;
  }

  protected override async countUnit(k: number, options: UnitOptions): Promise<number> {
    const url = this.fileOf(k);
    const signal = options.signal ?? this.o.signal;
    if (!isRemoteUrl(url)) {
      const sync = this.source.readRangeSync?.bind(this.source);
      if (isGzippedTar(url) || !sync) return this.#countBytes(k, signal);
      const size = await this.source.size(url, { signal });
      return this.#countRanges(k, url, size, (start, end) => sync(url, start, end), signal);
    }
    // A remote tar is counted from its cache entry, so that its first load is a cache hit; a
    // tar.gz is gunzipped as it is read from there, never held whole for its count.
    const cached = await readCachedShard(this.source, url, signal, async (file, path) =>
      isGzippedTar(url)
        ? this.#countStream(url, file.stream(path, { signal }), signal)
        : this.#countRanges(
            k,
            url,
            await file.size(path, { signal }),
            (start, end) => file.readRangeSync(path, start, end),
            signal,
          ),
    );
    // No cache, or one that cannot hold the tar: streamed, not kept.
    return cached ?? this.#countStream(url, this.source.stream(url, { signal }), signal);
  }

  /** Counts a tar as a stream of its (possibly gzipped) bytes, noting the columns it holds. */
  async #countStream(
    url: string,
    chunks: AsyncIterable<Uint8Array>,
    signal: AbortSignal | undefined,
  ): Promise<number> {
    const groups = wdsGroups(tarMembers(chunks, url, signal), url);
    const shapes = new Set<string>();
    let n = 0;
    for await (const g of groups) {
      n++;
      const shape = g.members.map((m) => m.ext).join('/');
      if (!shapes.has(shape) && this.#noted(() => wdsSampleOf(g, url, this.o))) shapes.add(shape);
    }
    return n;
  }

  /** Counts tar k read whole (a local tar.gz, or a source with no synchronous reads). */
  async #countBytes(k: number, signal: AbortSignal | undefined): Promise<number> {
    const url = this.fileOf(k);
    const { bytes } = await this.#bytes(k, signal);
    const index = indexTarBytes(bytes, url, signal);
    return this.#countIndex(k, index, (j) => index.sample(j, bytes, url, this.o));
  }

  /**
   * Counts a plain tar of `size` bytes on a local disk (a local file, or a remote tar's cache
   * entry) from its headers only, read in windows (a tar of large members is mostly skipped); the
   * members of a sample noted are read where they are.
   */
  #countRanges(
    k: number,
    url: string,
    size: number,
    sync: (start: number, end: number) => Uint8Array | undefined,
    signal: AbortSignal | undefined,
  ): number {
    const read = (start: number, end: number) => {
      const got = sync(start, end);
      if (got === undefined)
        throw new StreamsError('STREAMS_NOT_FOUND', `[streams/index] cannot read ${url}`, {
          url,
          fix: 'check that the file exists and is readable',
        });
      return got;
    };
    const index = indexTarRanges(read, size, url, signal);
    const member = (offset: number, n: number) => read(offset, offset + n).slice();
    return this.#countIndex(k, index, (j) => index.sampleRead(j, member, url, this.o));
  }

  /** The samples of tar k's index, noting its columns; the index is kept for the first load. */
  #countIndex(k: number, index: WdsTarIndex, sampleOf: (j: number) => Sample): number {
    // Columns are learned from the first sample of each new set of extensions, not every sample;
    // a member that does not decode fails when its sample is read, not here.
    const shapes = new Set<string>();
    let known = false; // sample j - 1's extensions are in `shapes`
    for (let j = 0; j < index.samples; j++) {
      if (known && index.sameShape(j, j - 1)) continue;
      const shape = index.shapeOf(j);
      known = shapes.has(shape) || this.#noted(() => sampleOf(j));
      if (known) shapes.add(shape);
    }
    // Kept for the tar's first load, within a bound: small next to the tars themselves.
    const bytes = index.memoryBytes;
    if (this.#countedBytes + bytes <= COUNTED_INDEX_BYTES) {
      this.#counted.set(k, { index, bytes });
      this.#countedBytes += bytes;
    }
    return index.samples;
  }

  /** Notes the columns of a sample; false when it does not decode (it fails when read). */
  #noted(sample: () => Sample): boolean {
    try {
      this.note(sample());
      return true;
    } catch (e) {
      if (!isStreamsError(e, 'STREAMS_DECODE_FAILED')) throw e;
      return false;
    }
  }
}

/**
 * A WebDataset read from tars an index already lists with their sample counts (and sizes): the
 * wids shard index (wids.ts). Nothing is counted at open; a load checks the tar against its unit.
 */
export function wdsDatasetOf(
  url: string,
  units: FormatUnit[],
  o: FormatOpenOptions,
  format: DatasetFormat,
  declaredBy: string,
): FormatDataset {
  return new WdsDataset(url, units, o, format, declaredBy);
}

/** WebDataset tar shards: members grouped into samples by key (`000001.jpg` + `000001.cls`). */
export const wdsFormat: ShardFormat = {
  name: 'wds',
  description:
    'WebDataset tar shards (.tar, .tar.gz, shard-{000..099}.tar, a directory or list of tars)',
  matchName: (url) => (TAR.test(basenameUrl(url)) ? 1 : 0),
  async open(url, o) {
    return new WdsDataset(url, await shardUnits(url, TAR, o), o);
  },
};
