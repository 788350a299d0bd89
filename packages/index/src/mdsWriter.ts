import { mkdir, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EventHub, parseBytes, StreamsError, throwIfAborted } from '@streams/core';
import { type CompressionSpec, compress, parseCompression } from './compression.js';
import { hashBytes, isHashAlgorithm } from './hashing.js';
import { mdsCoder } from './mdsEncodings.js';
import { encodeMdsShard, type MdsColumn, type MdsSample, MdsSchema } from './mdsShard.js';
import { compareCodePoints, pyJsonDumps } from './pyJson.js';
import { RoutingByteSource } from './routingByteSource.js';
import { isRemoteUrl, joinUrl, toLocalPath } from './urls.js';

/** Options of {@link MdsWriter}; names and defaults follow MosaicML's `MDSWriter`. */
export interface MdsWriterOptions {
  /**
   * Output directory: a local path, a `file:` URL, or a remote URL (`s3://`, `gs://`, `http(s)://`):
   * remote shards are staged in a local directory and uploaded as each is finished, index.json last.
   * Must be empty or missing unless `overwrite`.
   */
  out: string;
  /** Remote `out`: the local staging directory (default: a temp dir, removed by `finish()` unless `keepLocal`). */
  localDir?: string;
  /** Remote `out`: keep the staged files after uploading. */
  keepLocal?: boolean;
  /** Remote `out`: where shards are uploaded (default: `@streams/downloader`'s drivers and engine). */
  source?: RoutingByteSource;
  /** Column name -> MDS encoding (`int`, `str`, `bytes`, `json`, `ndarray:float32:28,28`...). */
  columns: Record<string, string>;
  /** `gz`, `bz2`, `zstd`, `br`, `snappy`, optionally with a level (`zstd:7`). */
  compression?: string | null;
  /** Hash algorithms recorded per shard in index.json (`md5`, `sha1`, `xxh64`...). */
  hashes?: readonly string[];
  /** Start a new shard past this many bytes (`"64mb"` = 64 MiB as in MosaicML); null: one shard. Default 1 << 26. */
  sizeLimit?: number | string | null;
  /** Allow writing into a non-empty directory (existing shard files are overwritten). */
  overwrite?: boolean;
  /** Called after each shard file is written. */
  onShard?: (info: MdsShardEntry) => void;
  /** Receives a `progress` event `mds.shard` per shard written (samples, bytes, shard name). */
  events?: EventHub;
  signal?: AbortSignal;
}

/** A file entry of index.json (`raw_data` / `zip_data`). */
export interface MdsFileInfo {
  basename: string;
  bytes: number;
  hashes: Record<string, string>;
}

/** One shard entry of index.json, exactly as MosaicML writes it. */
export interface MdsShardEntry {
  column_encodings: string[];
  column_names: string[];
  column_sizes: (number | null)[];
  compression: string | null;
  format: 'mds';
  hashes: string[];
  raw_data: MdsFileInfo;
  samples: number;
  size_limit: number | null;
  version: 2;
  zip_data: MdsFileInfo | null;
}

/**
 * Writes an MDS dataset byte-compatible with MosaicML `streaming` (index.json version 2): the same
 * inputs and options give the same shard bytes and the same index.json.
 *
 * ```ts
 * const w = new MdsWriter({ out: 'data/', columns: { x: 'int', y: 'str' } });
 * await w.write({ x: 1, y: 'a' });
 * await w.finish();
 * ```
 */
export class MdsWriter {
  /** The local directory shards are written to (the staging directory for a remote `out`). */
  dir: string;
  /** The remote `out`, when there is one. */
  readonly remote: string | undefined;
  #driver: RoutingByteSource | undefined;
  readonly columns: readonly MdsColumn[];
  readonly #schema: MdsSchema;
  readonly #compression: CompressionSpec | undefined;
  readonly #hashes: string[];
  readonly #sizeLimit: number | null;
  readonly #config: Uint8Array;
  readonly #extraPerShard: number;
  readonly #options: MdsWriterOptions;
  #samples: Uint8Array[] = [];
  #shardSize: number;
  #shards: MdsShardEntry[] = [];
  #ready: Promise<void> | undefined;
  #state: 'open' | 'finished' | 'failed' = 'open';
  #count = 0;

  constructor(options: MdsWriterOptions) {
    this.#options = options;
    this.remote = isRemoteUrl(options.out) ? options.out.replace(/\/+$/, '') : undefined;
    this.dir = this.remote ? (options.localDir ?? '') : toLocalPath(options.out);
    const names = Object.keys(options.columns).sort(compareCodePoints);
    if (names.length === 0)
      throw new StreamsError(
        'STREAMS_INVALID_ARGUMENT',
        '[streams/index] MdsWriter needs columns',
        {
          fix: 'pass columns: { name: encoding, ... }',
        },
      );
    this.columns = names.map((name) => {
      const encoding = options.columns[name] as string;
      return { name, encoding, size: mdsCoder(encoding, name).size };
    });
    this.#schema = new MdsSchema(this.columns);
    this.#compression = options.compression ? parseCompression(options.compression) : undefined;
    const hashes = [...new Set(options.hashes ?? [])].sort();
    for (const h of hashes) {
      if (!isHashAlgorithm(h))
        throw new StreamsError('STREAMS_INVALID_ARGUMENT', `[streams/index] unknown hash "${h}"`, {
          fix: 'use md5, sha1, sha256, xxh64, xxh3_64, xxh128 or another hashlib/xxhash name',
        });
    }
    this.#hashes = hashes;
    const limit = options.sizeLimit === undefined ? 1 << 26 : options.sizeLimit;
    const parsed = limit === null ? 0 : parseBytes(limit, 'sizeLimit');
    this.#sizeLimit = parsed === 0 ? null : parsed;
    this.#config = new TextEncoder().encode(pyJsonDumps(this.#configObject(), { sortKeys: true }));
    this.#extraPerShard = 4 + 4 + this.#config.length;
    this.#shardSize = this.#extraPerShard;
  }

  /** Number of samples written so far. */
  get count(): number {
    return this.#count;
  }

  #configObject() {
    return {
      version: 2,
      format: 'mds',
      compression: this.#options.compression || null,
      hashes: this.#hashes,
      size_limit: this.#sizeLimit,
      column_names: this.columns.map((c) => c.name),
      column_encodings: this.columns.map((c) => c.encoding),
      column_sizes: this.columns.map((c) => c.size),
    };
  }

  #prepare(): Promise<void> {
    this.#ready ??= (async () => {
      if (this.remote) {
        if (!this.dir) this.dir = await mkdtemp(join(tmpdir(), 'streams-mds-'));
        this.#driver = this.#options.source ?? new RoutingByteSource();
        if (!this.#options.overwrite && (await this.#driver.walk(this.remote)).length > 0)
          throw new StreamsError(
            'STREAMS_INVALID_ARGUMENT',
            `[streams/index] output location ${this.remote} is not empty`,
            {
              url: this.remote,
              fix: 'write to a new prefix, or pass overwrite: true (streams convert --overwrite)',
            },
          );
      }
      await mkdir(this.dir, { recursive: true });
      if (!this.#options.overwrite && (await readdir(this.dir)).length > 0)
        throw new StreamsError(
          'STREAMS_INVALID_ARGUMENT',
          `[streams/index] output directory ${this.dir} is not empty`,
          {
            fix: 'write into a new or empty directory, or pass overwrite: true (streams convert --overwrite)',
          },
        );
    })();
    return this.#ready;
  }

  /** Fails unless the writer is open, then checks the signal and prepares the output directory. */
  async #begin(): Promise<void> {
    if (this.#state !== 'open')
      throw new StreamsError(
        'STREAMS_INVALID_ARGUMENT',
        `[streams/index] MdsWriter is ${this.#state}`,
        { fix: 'create a new writer' },
      );
    throwIfAborted(this.#options.signal);
    await this.#prepare();
  }

  /** Adds one sample; may write a shard first when the size limit would be exceeded. */
  async write(sample: MdsSample): Promise<void> {
    await this.#begin();
    const encoded = this.#schema.encode(sample);
    const size = encoded.length + 4;
    // Same rule as MosaicML (including its quirk: a first sample over the limit flushes an empty shard).
    if (this.#sizeLimit !== null && this.#sizeLimit < this.#shardSize + size) {
      await this.#flush();
    }
    this.#samples.push(encoded);
    this.#shardSize += size;
    this.#count++;
  }

  async #flush(): Promise<void> {
    try {
      const index = this.#shards.length;
      const rawName = `shard.${String(index).padStart(5, '0')}.mds`;
      const raw = encodeMdsShard(this.#samples, this.#config);
      const rawInfo = await this.#info(raw, rawName);
      let zipInfo: MdsFileInfo | null = null;
      let data = raw;
      let name = rawName;
      if (this.#compression) {
        name = `${rawName}.${this.#compression.extension}`;
        data = await compress(this.#compression, raw);
        zipInfo = await this.#info(data, name);
      }
      await atomicWrite(join(this.dir, name), data);
      await this.#upload(name, data);
      const entry: MdsShardEntry = {
        ...this.#configObject(),
        format: 'mds',
        version: 2,
        samples: this.#samples.length,
        raw_data: rawInfo,
        zip_data: zipInfo,
      };
      this.#shards.push(entry);
      this.#samples = [];
      this.#shardSize = this.#extraPerShard;
      this.#options.onShard?.(entry);
      this.#options.events?.emit({
        kind: 'progress',
        name: 'mds.shard',
        bytes: data.length,
        counters: { shards: this.#shards.length, samples: this.#count },
        attrs: { shard: name, samples: entry.samples },
      });
    } catch (e) {
      this.#state = 'failed';
      throw e;
    }
  }

  async #upload(name: string, data: Uint8Array): Promise<void> {
    if (!this.remote || !this.#driver) return;
    await this.#driver.put(joinUrl(this.remote, name), data, { signal: this.#options.signal });
  }

  async #info(data: Uint8Array, basename: string): Promise<MdsFileInfo> {
    const hashes: Record<string, string> = {};
    for (const algo of this.#hashes) hashes[algo] = await hashBytes(algo, data);
    return { basename, bytes: data.length, hashes };
  }

  /** Writes the last shard and index.json; returns the shard entries. */
  async finish(): Promise<MdsShardEntry[]> {
    await this.#begin();
    if (this.#samples.length > 0) await this.#flush();
    const text = new TextEncoder().encode(
      pyJsonDumps({ version: 2, shards: this.#shards }, { sortKeys: true }),
    );
    await atomicWrite(join(this.dir, 'index.json'), text);
    // index.json goes up last: a reader never sees an index naming shards not yet uploaded.
    await this.#upload('index.json', text);
    this.#state = 'finished';
    if (this.remote && !this.#options.keepLocal)
      await rm(this.dir, { recursive: true, force: true });
    return this.#shards;
  }

  /** Leaves without index.json when `finish()` was not called (a partial dataset is never published). */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#state === 'open') this.#state = 'failed';
  }
}

let tmpCounter = 0;

async function atomicWrite(path: string, data: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${++tmpCounter}`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}
