// An open MDS dataset (MosaicML `streaming`'s format): index.json read into a shard table, then
// random access by sample index (a range read of one sample from an uncompressed shard, else a
// decode from the whole shard in memory) and reads in order. Parsing index.json, loading whole
// shards, range-read offset tables and the in-order walk live in the modules imported below.
import { StreamsError, throwIfAborted } from '@streams/core';
import type { ByteSource } from './byteSource.js';
import { MdsOffsetTables } from './mdsOffsetTables.js';
import { decodeShardSample, mdsSampleBatches, mdsSamples } from './mdsSamples.js';
import { type MdsColumn, type MdsSample, MdsSchema, type MdsSchemaOptions } from './mdsShard.js';
import { type LoadedMdsShard, MdsShardLoader } from './mdsShardLoader.js';
import { type MdsShard, parseMdsIndex } from './parseMdsIndex.js';
import { RoutingByteSource } from './routingByteSource.js';
import { joinUrl } from './urls.js';
import { withWhere } from './withWhere.js';

/** Options of {@link openMdsDataset}. */
export interface OpenMdsOptions extends MdsSchemaOptions {
  signal?: AbortSignal;
  /** Sub-directory holding the index.json (MosaicML `split`). */
  split?: string;
  /**
   * Check shard hashes when a whole shard is read: `true` uses the first algorithm index.json lists,
   * a name picks one. Range reads of single samples cannot be checked.
   */
  validateHashes?: boolean | string;
  /** Storage to read from (default: local files, remote URLs through `@streams/downloader`). */
  source?: ByteSource;
  /** Whole shards kept decoded in memory (default 2). */
  shardCacheSize?: number;
}

/** Where sample `i` of a dataset lives. */
export interface SampleLocation {
  shard: number;
  index: number;
}

/** An open MDS dataset: random access by sample index and sequential iteration. */
export interface MdsDataset extends AsyncDisposable {
  /** The dataset directory (path or URL). */
  readonly url: string;
  readonly numSamples: number;
  readonly columns: readonly MdsColumn[];
  readonly shards: readonly MdsShard[];
  readonly schema: MdsSchema;
  /** Shard and position of global sample `i`. */
  locate(i: number): SampleLocation;
  /** URL of the file a shard is stored in (the compressed one when compressed). */
  shardUrl(shard: number): string;
  /** Sample `j` of shard `shard`: a range read when the shard is not compressed and not cached. */
  readSample(
    shard: number,
    j: number,
    options?: { signal?: AbortSignal; background?: boolean },
  ): Promise<MdsSample>;
  /** Global sample `i`. */
  get(i: number, options?: { signal?: AbortSignal }): Promise<MdsSample>;
  /** The whole uncompressed shard, checked (size, hash if asked, header, offsets); the last few are kept. */
  readShard(shard: number, options?: { signal?: AbortSignal }): Promise<Uint8Array>;
  /**
   * The whole uncompressed shard read anew (not kept), checked as `readShard` does, with its offset
   * table and whether nothing was transferred (a local file or a cache hit).
   */
  loadShard(shard: number, options?: { signal?: AbortSignal }): Promise<LoadedMdsShard>;
  /** Samples `[start, end)` in order, in arrays of up to 1024 (never across shards): the fastest way to read in order. */
  sampleBatches(options?: {
    start?: number;
    end?: number;
    signal?: AbortSignal;
  }): AsyncGenerator<MdsSample[]>;
  /** Samples `[start, end)` in order, reading each shard once. */
  samples(options?: {
    start?: number;
    end?: number;
    signal?: AbortSignal;
  }): AsyncGenerator<MdsSample>;
  close(): Promise<void>;
}

/** Reads ahead of the consumer at least this large go to the thread pool; smaller ones cost less inline. */
const BACKGROUND_READ_BYTES = 64 * 1024;

/**
 * Opens an MDS dataset (a directory or URL holding index.json), reading only index.json.
 *
 * ```ts
 * await using ds = await openMdsDataset('data/mnist');
 * const first = await ds.get(0);
 * ```
 */
export async function openMdsDataset(
  dirOrUrl: string,
  options: OpenMdsOptions = {},
): Promise<MdsDataset> {
  const base = options.split ? joinUrl(dirOrUrl, options.split) : dirOrUrl;
  const source = options.source ?? new RoutingByteSource();
  const ownsSource = options.source === undefined;
  const indexUrl = joinUrl(base, 'index.json');
  let text: string;
  try {
    text = new TextDecoder().decode(await source.read(indexUrl, { signal: options.signal }));
  } catch (e) {
    if (ownsSource) await source.close();
    throw e;
  }
  try {
    const { shards, columns } = parseMdsIndex(text, indexUrl);
    const schema = new MdsSchema(columns, options);
    return new OpenMdsDataset(base, shards, columns, schema, source, ownsSource, options);
  } catch (e) {
    if (ownsSource) await source.close();
    throw e;
  }
}

class OpenMdsDataset implements MdsDataset {
  readonly numSamples: number;
  readonly #starts: Float64Array; // [shards + 1] cumulative sample counts
  readonly #loader: MdsShardLoader;
  readonly #offsets: MdsOffsetTables;
  // The maps and URLs of the two above, held here too: a sample read looks them up directly.
  readonly #shardCache: ReadonlyMap<number, Promise<Uint8Array>>;
  readonly #offsetCache: ReadonlyMap<number, Promise<Uint32Array> | Uint32Array>;
  /** URL of each shard's stored file. */
  readonly #fileUrls: readonly string[];
  #closed = false;

  constructor(
    readonly url: string,
    readonly shards: readonly MdsShard[],
    readonly columns: readonly MdsColumn[],
    readonly schema: MdsSchema,
    readonly source: ByteSource,
    readonly ownsSource: boolean,
    options: OpenMdsOptions,
  ) {
    this.#starts = new Float64Array(shards.length + 1);
    shards.forEach((s, k) => {
      this.#starts[k + 1] = (this.#starts[k] ?? 0) + s.samples;
    });
    this.numSamples = this.#starts[shards.length] ?? 0;
    this.#loader = new MdsShardLoader(url, shards, source, options);
    this.#offsets = new MdsOffsetTables(source);
    this.#shardCache = this.#loader.cached;
    this.#offsetCache = this.#offsets.tables;
    this.#fileUrls = this.#loader.fileUrls;
  }

  locate(i: number): SampleLocation {
    if (!Number.isInteger(i) || i < 0 || i >= this.numSamples)
      throw new StreamsError(
        'STREAMS_INVALID_ARGUMENT',
        `[streams/index] sample ${i} is outside the dataset's ${this.numSamples} samples`,
        { url: this.url, fix: `ask for a sample in [0, ${this.numSamples})` },
      );
    // Binary search for the last shard whose start <= i (skipping empty shards).
    let lo = 0;
    let hi = this.shards.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.#starts[mid] ?? 0) <= i) lo = mid;
      else hi = mid - 1;
    }
    while ((this.shards[lo]?.samples ?? 0) === 0) lo++;
    return { shard: lo, index: i - (this.#starts[lo] ?? 0) };
  }

  shardUrl(shard: number): string {
    this.#shard(shard);
    return this.#fileUrls[shard] as string;
  }

  #shard(k: number): MdsShard {
    const s = this.shards[k];
    if (!s)
      throw new StreamsError(
        'STREAMS_INVALID_ARGUMENT',
        `[streams/index] shard ${k} is outside the dataset's ${this.shards.length} shards`,
        { url: this.url, fix: `ask for a shard in [0, ${this.shards.length})` },
      );
    return s;
  }

  #checkOpen(): void {
    if (this.#closed)
      throw new StreamsError('STREAMS_INVALID_ARGUMENT', '[streams/index] the dataset is closed', {
        url: this.url,
        fix: 'open it again',
      });
  }

  readShard(shard: number, options: { signal?: AbortSignal } = {}): Promise<Uint8Array> {
    this.#checkOpen();
    return this.#loader.read(this.#shard(shard), options.signal);
  }

  loadShard(shard: number, options: { signal?: AbortSignal } = {}): Promise<LoadedMdsShard> {
    this.#checkOpen();
    return this.#loader.load(this.#shard(shard), options.signal);
  }

  async readSample(
    shard: number,
    j: number,
    options: { signal?: AbortSignal; background?: boolean } = {},
  ): Promise<MdsSample> {
    this.#checkOpen();
    const s = this.#shard(shard);
    if (!Number.isInteger(j) || j < 0 || j >= s.samples)
      throw new StreamsError(
        'STREAMS_INVALID_ARGUMENT',
        `[streams/index] sample ${j} is outside shard ${shard}'s ${s.samples} samples`,
        { url: this.url, fix: `ask for a sample in [0, ${s.samples})` },
      );
    const cached = this.#shardCache.get(shard);
    if (cached || s.compression) {
      const buf = await this.readShard(shard, options);
      return decodeShardSample(this.schema, buf, s, j);
    }
    const fileUrl = this.#fileUrls[shard] as string;
    const known = this.#offsetCache.get(shard);
    const offsets =
      known instanceof Uint32Array ? known : await this.#offsets.read(s, fileUrl, options.signal);
    const begin = offsets[j] ?? 0;
    const end = offsets[j + 1] ?? 0;
    // A local file is read synchronously (~1 µs, against tens for an async read); anything else
    // (remote objects, sources without a synchronous read), and a large read ahead of its consumer
    // (which then overlaps the consumer's work), by an async range read.
    throwIfAborted(options.signal);
    const inline = !(options.background && end - begin >= BACKGROUND_READ_BYTES);
    const bytes =
      (inline ? this.source.readRangeSync?.(fileUrl, begin, end) : undefined) ??
      (await this.source.readRange(fileUrl, begin, end, options));
    if (bytes.length !== end - begin)
      throw new StreamsError(
        'STREAMS_SHARD_CORRUPT',
        `[streams/index] sample ${j} is cut short (${bytes.length} of ${end - begin} bytes)`,
        { shard: s.basename, url: fileUrl, fix: 'the shard is truncated: download it again' },
      );
    try {
      return this.schema.decode(bytes, 0, bytes.length);
    } catch (e) {
      throw withWhere(e, { shard: s.basename, sample: s.firstSample + j });
    }
  }

  get(i: number, options?: { signal?: AbortSignal }): Promise<MdsSample> {
    const { shard, index } = this.locate(i);
    return this.readSample(shard, index, options);
  }

  sampleBatches(
    options: { start?: number; end?: number; signal?: AbortSignal } = {},
  ): AsyncGenerator<MdsSample[]> {
    return mdsSampleBatches(this, options);
  }

  samples(
    options: { start?: number; end?: number; signal?: AbortSignal } = {},
  ): AsyncGenerator<MdsSample> {
    return mdsSamples(this, options);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#loader.clear();
    this.#offsets.clear();
    if (this.ownsSource) await this.source.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
