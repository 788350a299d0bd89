// Whole MDS shards: each read through the dataset's byte source and checked (size, hash when asked,
// decompressed size, header and offset table), and the last few kept in memory, least recently
// used dropped first.
import { StreamsError, throwIfAborted } from '@streams/core';
import type { ByteSource } from './byteSource.js';
import { type CompressionSpec, decompress, parseCompression } from './compression.js';
import { fetchMismatch } from './fetchCheck.js';
import { isHashAlgorithm } from './hashing.js';
import { mdsShardOffsets } from './mdsShard.js';
import type { MdsShard } from './parseMdsIndex.js';
import { joinUrl } from './urls.js';
import { withWhere } from './withWhere.js';

/** A shard in memory, checked: its bytes (a plain Uint8Array), offset table and how it was read. */
export interface LoadedMdsShard {
  bytes: Uint8Array;
  offsets: Uint32Array; // [samples + 1]
  hit: boolean;
}

/** Reads, checks and keeps the whole shards of one dataset. */
export class MdsShardLoader {
  /** URL of each shard's stored file (the compressed one when compressed). */
  readonly fileUrls: readonly string[];
  readonly #cache = new Map<number, Promise<Uint8Array>>();
  /** The shards kept, least recently used first, by shard index. */
  readonly cached: ReadonlyMap<number, Promise<Uint8Array>> = this.#cache;
  readonly #compressions = new Map<number, CompressionSpec>();
  readonly #hashAlgo: string | undefined;
  readonly #cacheSize: number;

  constructor(
    url: string,
    shards: readonly MdsShard[],
    readonly source: ByteSource,
    options: { validateHashes?: boolean | string; shardCacheSize?: number },
  ) {
    shards.forEach((s, k) => {
      if (s.compression) this.#compressions.set(k, parseCompression(s.compression));
    });
    this.fileUrls = shards.map((s) => joinUrl(url, s.zipBasename ?? s.basename));
    this.#cacheSize = Math.max(1, options.shardCacheSize ?? 2);
    const v = options.validateHashes;
    if (typeof v === 'string') {
      if (!isHashAlgorithm(v))
        throw new StreamsError('STREAMS_INVALID_ARGUMENT', `[streams/index] unknown hash "${v}"`, {
          fix: 'use an algorithm listed in index.json, e.g. sha1 or xxh64',
        });
      this.#hashAlgo = v;
    } else if (v === true) {
      const listed = Object.keys(shards[0]?.hashes ?? {});
      this.#hashAlgo = listed.find(isHashAlgorithm);
      if (!this.#hashAlgo && shards.length > 0)
        throw new StreamsError(
          'STREAMS_INVALID_ARGUMENT',
          '[streams/index] validateHashes is set but index.json lists no hash this reader supports',
          { url, fix: 'write the dataset with hashes, or drop validateHashes' },
        );
    }
  }

  /** Shard `s`, kept: from memory when it is, else loaded (and a failed load not kept). */
  read(s: MdsShard, signal?: AbortSignal): Promise<Uint8Array> {
    const shard = s.index;
    let p = this.#cache.get(shard);
    if (p) {
      this.#cache.delete(shard);
      this.#cache.set(shard, p);
      return p;
    }
    p = this.load(s, signal).then((l) => l.bytes);
    this.#cache.set(shard, p);
    p.catch(() => this.#cache.delete(shard));
    while (this.#cache.size > this.#cacheSize) {
      const oldest = this.#cache.keys().next().value as number;
      this.#cache.delete(oldest);
    }
    return p;
  }

  /** Shard `s` read anew (not kept) and checked, with its offset table. */
  async load(s: MdsShard, signal?: AbortSignal): Promise<LoadedMdsShard> {
    const fileUrl = this.fileUrls[s.index] as string;
    const where = { shard: s.basename, url: fileUrl };
    const expectBytes = (s.zipBasename ? s.zipBytes : s.rawBytes) ?? 0;
    const hashes = s.zipBasename ? s.zipHashes : s.hashes;
    const algo = this.#hashAlgo;
    const expected = algo === undefined ? undefined : hashes?.[algo];
    if (algo !== undefined && expected === undefined)
      throw new StreamsError(
        'STREAMS_HASH_MISMATCH',
        `[streams/index] index.json has no ${algo} hash for this shard`,
        { ...where, fix: 'pick a hash algorithm index.json lists' },
      );
    const fetched = await this.source.fetch(fileUrl, {
      signal,
      size: expectBytes,
      hash:
        algo !== undefined && expected !== undefined
          ? { algorithm: algo, digest: expected }
          : undefined,
    });
    const data = fetched.bytes;
    throwIfAborted(signal);
    const bad = await fetchMismatch(
      fetched,
      expectBytes,
      algo !== undefined && expected !== undefined
        ? { algorithm: algo, digest: expected }
        : undefined,
    );
    if (bad?.kind === 'size')
      throw new StreamsError(
        'STREAMS_SHARD_CORRUPT',
        `[streams/index] shard file is ${bad.actual} bytes, index.json says ${expectBytes}`,
        {
          ...where,
          fix: 'the shard is truncated or index.json is stale: download or write it again',
        },
      );
    if (bad?.kind === 'hash')
      throw new StreamsError(
        'STREAMS_HASH_MISMATCH',
        `[streams/index] ${algo} of the shard is ${bad.actual}, index.json says ${expected}`,
        { ...where, fix: 'the shard is damaged: download or write it again' },
      );
    let raw = data;
    const spec = this.#compressions.get(s.index);
    if (spec) {
      raw = await decompress(spec, data, where);
      if (raw.length !== s.rawBytes)
        throw new StreamsError(
          'STREAMS_SHARD_CORRUPT',
          `[streams/index] shard decompresses to ${raw.length} bytes, index.json says ${s.rawBytes}`,
          { ...where, fix: 'download or write the shard again' },
        );
    }
    // A plain Uint8Array over a Buffer's memory: samples' byte columns are then cut with the
    // native subarray, not Buffer's (which builds a Buffer subclass per call, per sample).
    if (Object.getPrototypeOf(raw) !== Uint8Array.prototype)
      raw = new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
    let offsets: Uint32Array;
    try {
      offsets = mdsShardOffsets(raw, s.samples);
    } catch (e) {
      throw withWhere(e, where);
    }
    return { bytes: raw, offsets, hit: fetched.hit };
  }

  /** Drops the kept shards. */
  clear(): void {
    this.#cache.clear();
  }
}
