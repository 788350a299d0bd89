import { StreamsError, throwIfAborted } from '@streams/core';
import { type ByteSource, RoutingByteSource } from './byteSource.js';
import { type CompressionSpec, decompress, parseCompression } from './compression.js';
import { hashBytes, isHashAlgorithm } from './hashing.js';
import {
  checkOffsets,
  type MdsColumn,
  type MdsSample,
  MdsSchema,
  type MdsSchemaOptions,
  mdsShardOffsets,
} from './mdsShard.js';
import { joinUrl, unsafeRelativePath } from './urls.js';

/** One shard of an MDS dataset, as its index.json entry describes it. */
export interface MdsShard {
  /** Position in index.json. */
  index: number;
  /** Uncompressed shard file name (`shard.00000.mds`). */
  basename: string;
  samples: number;
  /** Uncompressed size in bytes. */
  rawBytes: number;
  /** Hashes of the uncompressed file. */
  hashes: Record<string, string>;
  /** Compressed file name (`shard.00000.mds.zstd`) when the shard is compressed. */
  zipBasename?: string;
  zipBytes?: number;
  zipHashes?: Record<string, string>;
  compression?: string;
  /** Index of this shard's first sample in the dataset. */
  firstSample: number;
}

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

/** A shard in memory, checked: its bytes (a plain Uint8Array), offset table and how it was read. */
export interface LoadedMdsShard {
  bytes: Uint8Array;
  offsets: Uint32Array; // [samples + 1]
  hit: boolean;
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

/** Samples per array yielded by `sampleBatches`. */
const BATCH = 1024;

/** Reads ahead of the consumer at least this large go to the thread pool; smaller ones cost less inline. */
const BACKGROUND_READ_BYTES = 64 * 1024;

function invalid(message: string, url: string, cause?: unknown): StreamsError {
  return new StreamsError('STREAMS_INDEX_INVALID', `[streams/index] ${message}`, {
    url,
    cause,
    fix: 'index.json must be an MDS index (version 2) as written by MosaicML streaming or MdsWriter',
  });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fileInfo(
  v: unknown,
  what: string,
  url: string,
): { basename: string; bytes: number; hashes: Record<string, string> } {
  if (!isRecord(v) || typeof v.basename !== 'string' || typeof v.bytes !== 'number')
    throw invalid(`${what} needs "basename" and "bytes"`, url);
  const unsafe = unsafeRelativePath(v.basename);
  if (unsafe !== undefined)
    throw new StreamsError(
      'STREAMS_UNSAFE_PATH',
      `[streams/index] ${what}.basename ${JSON.stringify(v.basename)} ${unsafe}: it could leave the dataset directory`,
      { url, fix: 'shard basenames must be relative paths inside the dataset directory' },
    );
  if (!Number.isSafeInteger(v.bytes) || v.bytes < 0)
    throw invalid(`${what}.bytes is not a byte count`, url);
  const hashes: Record<string, string> = {};
  if (isRecord(v.hashes)) {
    for (const [k, h] of Object.entries(v.hashes)) if (typeof h === 'string') hashes[k] = h;
  }
  return { basename: v.basename, bytes: v.bytes, hashes };
}

/** MDS offsets are 32-bit: no shard file is larger. */
const MAX_SHARD_BYTES = 0xffffffff;

/**
 * Checks a shard's declared sample count against its declared sizes, so an index.json that lies
 * fails here, before any reader allocates for it: a shard of N samples holds a header and N + 1
 * offsets (4(N + 2) bytes) plus at least each sample's fixed-size columns and size fields.
 */
function checkDeclaredSizes(
  where: string,
  samples: number,
  columns: readonly MdsColumn[],
  rawBytes: number,
  zipBytes: number | undefined,
  url: string,
): void {
  if (rawBytes > MAX_SHARD_BYTES)
    throw invalid(
      `${where}.raw_data.bytes is ${rawBytes}, more than an MDS shard can hold (${MAX_SHARD_BYTES})`,
      url,
    );
  let perSample = 0;
  for (const c of columns) perSample += c.size ?? 4;
  const least = 4 * (samples + 2) + samples * perSample;
  if (least > rawBytes)
    throw invalid(
      `${where} declares ${samples} samples, which need at least ${least} bytes, in ${rawBytes} bytes`,
      url,
    );
  // No compressor grows data by a quarter (snappy, the worst, by a sixth).
  if (zipBytes !== undefined && zipBytes > rawBytes + rawBytes / 4 + 65_536)
    throw invalid(
      `${where}.zip_data.bytes is ${zipBytes}, far more than its ${rawBytes} bytes of data`,
      url,
    );
}

/** Parses index.json text into shards and columns, checking every field it relies on. */
export function parseMdsIndex(
  text: string,
  url: string,
): { shards: MdsShard[]; columns: MdsColumn[] } {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (cause) {
    throw invalid('index.json is not valid JSON', url, cause);
  }
  if (!isRecord(obj)) throw invalid('index.json is not an object', url);
  if (obj.version !== 2)
    throw invalid(`index.json has version ${JSON.stringify(obj.version)}, expected 2`, url);
  if (!Array.isArray(obj.shards)) throw invalid('index.json has no "shards" list', url);
  let columns: MdsColumn[] | undefined;
  const shards: MdsShard[] = [];
  let first = 0;
  obj.shards.forEach((s: unknown, index: number) => {
    const where = `shards[${index}]`;
    if (!isRecord(s)) throw invalid(`${where} is not an object`, url);
    if (s.version !== 2) throw invalid(`${where}.version is not 2`, url);
    if (s.format !== 'mds')
      throw new StreamsError(
        'STREAMS_UNSUPPORTED_ENCODING',
        `[streams/index] ${where} has format "${String(s.format)}"; only "mds" shards are read from index.json`,
        { url, fix: 'convert the dataset to MDS (streams convert --format mds)' },
      );
    const names = s.column_names;
    const encodings = s.column_encodings;
    const sizes = s.column_sizes;
    if (
      !Array.isArray(names) ||
      !Array.isArray(encodings) ||
      !Array.isArray(sizes) ||
      names.length !== encodings.length ||
      names.length !== sizes.length ||
      !names.every((n) => typeof n === 'string') ||
      !encodings.every((e) => typeof e === 'string') ||
      !sizes.every((z) => z === null || (Number.isSafeInteger(z) && z > 0))
    )
      throw invalid(
        `${where} needs column_names, column_encodings and column_sizes of equal length`,
        url,
      );
    const cols: MdsColumn[] = names.map((name, k) => ({
      name: name as string,
      encoding: encodings[k] as string,
      size: (sizes[k] as number | null) ?? null,
    }));
    if (!columns) columns = cols;
    else if (JSON.stringify(columns) !== JSON.stringify(cols))
      throw new StreamsError(
        'STREAMS_SCHEMA_MISMATCH',
        `[streams/index] ${where} has columns ${JSON.stringify(cols.map((c) => `${c.name}:${c.encoding}`))}, shard 0 has ${JSON.stringify(columns.map((c) => `${c.name}:${c.encoding}`))}`,
        { url, shard: index, fix: 'write all shards of a dataset with the same columns' },
      );
    if (!Number.isSafeInteger(s.samples) || (s.samples as number) < 0)
      throw invalid(`${where}.samples is not a count`, url);
    const raw = fileInfo(s.raw_data, `${where}.raw_data`, url);
    const zip = s.zip_data ? fileInfo(s.zip_data, `${where}.zip_data`, url) : undefined;
    const compression = typeof s.compression === 'string' ? s.compression : undefined;
    if (zip && !compression) throw invalid(`${where} has zip_data but no compression`, url);
    if (compression && !zip) throw invalid(`${where} has compression but no zip_data`, url);
    if (compression) parseCompression(compression);
    const samples = s.samples as number;
    checkDeclaredSizes(where, samples, cols, raw.bytes, zip?.bytes, url);
    shards.push({
      index,
      basename: raw.basename,
      samples,
      rawBytes: raw.bytes,
      hashes: raw.hashes,
      ...(zip
        ? { zipBasename: zip.basename, zipBytes: zip.bytes, zipHashes: zip.hashes, compression }
        : {}),
      firstSample: first,
    });
    first += samples;
  });
  return { shards, columns: columns ?? [] };
}

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
  readonly #shardCache = new Map<number, Promise<Uint8Array>>();
  /** Offset tables of uncompressed shards read by range: the table once read, a promise before. */
  readonly #offsetCache = new Map<number, Promise<Uint32Array> | Uint32Array>();
  /** URL of each shard's stored file. */
  readonly #fileUrls: string[];
  readonly #compressions = new Map<number, CompressionSpec>();
  readonly #hashAlgo: string | undefined;
  readonly #cacheSize: number;
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
      if (s.compression) this.#compressions.set(k, parseCompression(s.compression));
    });
    this.#fileUrls = shards.map((s) => joinUrl(url, s.zipBasename ?? s.basename));
    this.numSamples = this.#starts[shards.length] ?? 0;
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
    const s = this.#shard(shard);
    let p = this.#shardCache.get(shard);
    if (p) {
      this.#shardCache.delete(shard);
      this.#shardCache.set(shard, p);
      return p;
    }
    p = this.#loadShard(s, options.signal).then((l) => l.bytes);
    this.#shardCache.set(shard, p);
    p.catch(() => this.#shardCache.delete(shard));
    while (this.#shardCache.size > this.#cacheSize) {
      const oldest = this.#shardCache.keys().next().value as number;
      this.#shardCache.delete(oldest);
    }
    return p;
  }

  loadShard(shard: number, options: { signal?: AbortSignal } = {}): Promise<LoadedMdsShard> {
    this.#checkOpen();
    return this.#loadShard(this.#shard(shard), options.signal);
  }

  async #loadShard(s: MdsShard, signal?: AbortSignal): Promise<LoadedMdsShard> {
    const fileUrl = this.#fileUrls[s.index] as string;
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
    if (data.length !== expectBytes)
      throw new StreamsError(
        'STREAMS_SHARD_CORRUPT',
        `[streams/index] shard file is ${data.length} bytes, index.json says ${expectBytes}`,
        {
          ...where,
          fix: 'the shard is truncated or index.json is stale: download or write it again',
        },
      );
    if (algo !== undefined && !fetched.hashChecked) {
      const actual = await hashBytes(algo, data);
      if (actual !== expected)
        throw new StreamsError(
          'STREAMS_HASH_MISMATCH',
          `[streams/index] ${algo} of the shard is ${actual}, index.json says ${expected}`,
          { ...where, fix: 'the shard is damaged: download or write it again' },
        );
    }
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

  /** Offset table of an uncompressed shard, read by range and checked once. */
  async #offsets(s: MdsShard, signal?: AbortSignal): Promise<Uint32Array> {
    const had = this.#offsetCache.get(s.index);
    if (had) return had;
    const p = (async () => {
      const fileUrl = this.#fileUrls[s.index] as string;
      const tableEnd = 4 + 4 * (s.samples + 1);
      const where = { shard: s.basename, url: fileUrl };
      if (tableEnd > s.rawBytes)
        throw new StreamsError(
          'STREAMS_SHARD_CORRUPT',
          `[streams/index] index.json says ${s.samples} samples, more than a ${s.rawBytes}-byte shard can hold`,
          { ...where, fix: 'index.json does not match the shard: rewrite the dataset' },
        );
      // One size check per shard catches truncation before any sample is served from it.
      const [size, head] = await Promise.all([
        this.source.size(fileUrl, { signal }),
        this.source.readRange(fileUrl, 0, tableEnd, { signal }),
      ]);
      if (size !== s.rawBytes)
        throw new StreamsError(
          'STREAMS_SHARD_CORRUPT',
          `[streams/index] shard file is ${size} bytes, index.json says ${s.rawBytes}`,
          {
            ...where,
            fix: 'the shard is truncated or index.json is stale: download or write it again',
          },
        );
      if (head.length < tableEnd)
        throw new StreamsError(
          'STREAMS_SHARD_CORRUPT',
          `[streams/index] shard is shorter than the offset table of its ${s.samples} samples`,
          {
            ...where,
            fix: 'the shard is truncated or index.json lies: download or write it again',
          },
        );
      const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
      const n = dv.getUint32(0, true);
      if (n !== s.samples)
        throw new StreamsError(
          'STREAMS_SHARD_CORRUPT',
          `[streams/index] shard header says ${n} samples, index.json says ${s.samples}`,
          { ...where, fix: 'index.json does not match the shard: rewrite the dataset' },
        );
      const offsets = new Uint32Array(n + 1);
      for (let i = 0; i <= n; i++) offsets[i] = dv.getUint32(4 + 4 * i, true);
      try {
        checkOffsets(offsets, tableEnd, s.rawBytes);
      } catch (e) {
        throw withWhere(e, where);
      }
      return offsets;
    })();
    this.#offsetCache.set(s.index, p);
    // Once read, the table itself is kept: the synchronous read path looks it up without awaiting.
    p.then(
      (table) => {
        if (this.#offsetCache.get(s.index) === p) this.#offsetCache.set(s.index, table);
      },
      () => {
        if (this.#offsetCache.get(s.index) === p) this.#offsetCache.delete(s.index);
      },
    );
    // Offset tables are small; keep a bounded number of them.
    if (this.#offsetCache.size > 256) {
      const oldest = this.#offsetCache.keys().next().value as number;
      this.#offsetCache.delete(oldest);
    }
    return p;
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
      return this.#decodeIn(buf, s, j);
    }
    const known = this.#offsetCache.get(shard);
    const offsets = known instanceof Uint32Array ? known : await this.#offsets(s, options.signal);
    const begin = offsets[j] ?? 0;
    const end = offsets[j + 1] ?? 0;
    const fileUrl = this.#fileUrls[shard] as string;
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

  #decodeIn(buf: Uint8Array, s: MdsShard, j: number, dv?: DataView): MdsSample {
    const view = dv ?? new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const begin = view.getUint32(4 + 4 * j, true);
    const end = view.getUint32(8 + 4 * j, true);
    try {
      return this.schema.decode(buf, begin, end, view);
    } catch (e) {
      throw withWhere(e, { shard: s.basename, sample: s.firstSample + j });
    }
  }

  get(i: number, options?: { signal?: AbortSignal }): Promise<MdsSample> {
    const { shard, index } = this.locate(i);
    return this.readSample(shard, index, options);
  }

  async *sampleBatches(
    options: { start?: number; end?: number; signal?: AbortSignal } = {},
  ): AsyncGenerator<MdsSample[]> {
    for await (const { s, buf, dv, from, stop } of this.#spans(options)) {
      // Small batches: samples the caller drops die young instead of piling up in old space.
      for (let j = from; j < stop; ) {
        const upto = Math.min(stop, j + BATCH);
        const out: MdsSample[] = new Array(upto - j);
        for (let k = 0; j < upto; j++) out[k++] = this.#decodeIn(buf, s, j, dv);
        yield out;
      }
    }
  }

  async *samples(
    options: { start?: number; end?: number; signal?: AbortSignal } = {},
  ): AsyncGenerator<MdsSample> {
    for await (const { s, buf, dv, from, stop } of this.#spans(options)) {
      for (let j = from; j < stop; j++) yield this.#decodeIn(buf, s, j, dv);
    }
  }

  /**
   * The non-empty shards that hold samples [start, end), each read when the caller gets to it, with
   * the in-shard range [from, stop) to decode: the walk samples() and sampleBatches() share.
   */
  async *#spans(options: {
    start?: number;
    end?: number;
    signal?: AbortSignal;
  }): AsyncGenerator<{ s: MdsShard; buf: Uint8Array; dv: DataView; from: number; stop: number }> {
    const start = Math.max(0, options.start ?? 0);
    const end = Math.min(this.numSamples, options.end ?? this.numSamples);
    if (start >= end) return;
    let { shard } = this.locate(start);
    let i = start;
    while (i < end) {
      throwIfAborted(options.signal);
      const s = this.#shard(shard);
      if (s.samples > 0) {
        const buf = await this.readShard(shard, options);
        const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
        const stop = Math.min(s.samples, end - s.firstSample);
        const from = i - s.firstSample;
        yield { s, buf, dv, from, stop };
        i += Math.max(0, stop - from);
      }
      shard++;
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#shardCache.clear();
    this.#offsetCache.clear();
    if (this.ownsSource) await this.source.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Adds coordinates to a StreamsError raised without them. */
function withWhere(e: unknown, where: { shard?: string; url?: string; sample?: number }): unknown {
  if (e instanceof StreamsError && e.shard === undefined) {
    return new StreamsError(e.code, e.message.replace(/\. Fix: .*$/s, ''), {
      cause: e.cause ?? e,
      shard: where.shard,
      url: where.url,
      sample: where.sample,
      fix: e.fix,
    });
  }
  return e;
}
