// The shard-format plug-in point: what a format is (detection and opening) and what an opened
// dataset of that format gives every reader (units with sample counts, the files a unit needs,
// checked loading, decoding sample j). `openDataset`, the `streams` data commands and
// `StreamingDataset` read every format through these types only.
import type { Rng } from '@streams/core';
import type { ByteSource } from '../byteSource.js';
import type { TextOptions } from '../chunkReader.js';
import type { RowPredicate } from '../rowFilter.js';

/** A decoded sample: column (or member) name -> value. */
export type Sample = Record<string, unknown>;

/** The name of a registered format: the built-ins, or one added with `registerFormat`. */
export type DatasetFormat = 'mds' | 'wds' | 'jsonl' | 'csv' | 'table' | (string & {});

/** A column as `streams inspect` shows it. */
export interface DatasetColumn {
  name: string;
  /** Encoding (MDS), extension (WebDataset) or Arrow type (tables). */
  type: string;
}

/** A file a unit is read from, as the dataset's index describes it. */
export interface UnitFile {
  /** Absolute URL or local path. */
  url: string;
  /** Stored size in bytes, when the index says. */
  size?: number;
  /** Expected digests of the stored bytes by algorithm (`sha1`, `xxh64`...), when the index says. */
  hashes?: Readonly<Record<string, string>>;
}

/**
 * A unit of a dataset: a shard, or a chunk of index rows. It is what the epoch order shuffles
 * within (locality) and what a loader brings into memory at once.
 */
export interface FormatUnit {
  /** Name in messages and error coordinates: a shard's file name, or `rows 0-4095`. */
  readonly name: string;
  /** Samples in it; undefined until counted for formats whose index does not say (see `count`). */
  samples: number | undefined;
  /** Bytes fetched to load it (stored sizes), when known. */
  readonly bytes: number | undefined;
  /** The files the unit is read from (none for index rows read from the table itself). */
  readonly files: readonly UnitFile[];
}

/** A unit in memory, checked (sizes, hashes, decompression, offsets), decodable at any sample. */
export interface LoadedUnit {
  readonly samples: number;
  /** Bytes it holds in memory (what a linger budget counts). */
  readonly memoryBytes: number;
  /** True when nothing was transferred to load it (local files, cache hits). */
  readonly hit: boolean;
  /** Sample j (0 <= j < samples); the bytes are in memory, so this is synchronous. */
  decode(j: number): Sample;
  /** Lets go of anything held for it beyond memory (no-op for the built-in formats). */
  release(): Promise<void>;
  /**
   * Formats whose samples name their own files (index tables): sample j with those files fetched
   * through the dataset's byte source, each as its own cache entry, checked against the row's
   * size and hash columns: a loaded unit of that one sample.
   */
  fetchSample?(j: number, options?: SampleFetchOptions): Promise<LoadedUnit>;
}

/** Options of {@link LoadedUnit.fetchSample}. */
export interface SampleFetchOptions {
  signal?: AbortSignal;
  /** Seeds the sample's choices among alternative columns (default: the dataset seed and the row). */
  choice?: Rng;
}

/** Options of the per-unit calls. */
export interface UnitOptions {
  signal?: AbortSignal;
  /**
   * The read runs ahead of its consumer (read-ahead): a large local read goes to the thread pool,
   * so it overlaps the consumer's work, instead of blocking the thread with a synchronous read.
   */
  background?: boolean;
}

/** An opened dataset of one format. */
export interface FormatDataset {
  readonly format: DatasetFormat;
  /** The location it was opened from. */
  readonly url: string;
  /** Its units in dataset order; the sample order of the dataset is unit after unit. */
  readonly units: readonly FormatUnit[];
  /** Columns, as far as known (formats without a schema add them while samples are read). */
  readonly columns: readonly DatasetColumn[];
  /** Stored bytes of the data when known without reading it. */
  readonly totalBytes: number | undefined;
  /** Index tables: the columns holding URLs of bytes to fetch per sample. */
  readonly urlColumns?: readonly string[];
  /** Index tables: the column with each file's size (what a scan sums into the stored bytes). */
  readonly sizeColumn?: string;
  /** True when the format already keeps only the `columns` asked for at open (else readers project). */
  readonly selectsColumns?: boolean;
  /** True when the format already applies the `filter` given at open (else readers filter samples). */
  readonly filters?: boolean;
  /** Counts the samples of units whose count the index does not give (reading them); returns the total. */
  count(options?: UnitOptions): Promise<number>;
  /** Brings unit k into memory, checked against what the index says (size, hash, decompression). */
  load(k: number, options?: UnitOptions): Promise<LoadedUnit>;
  /** Reads unit k front to back without holding it whole (formats that can: tar, JSONL, CSV). */
  stream?(k: number, options?: UnitOptions): AsyncIterable<Sample>;
  /** Sample j of unit k without loading the whole unit (range reads), when the format can. */
  readSample?(k: number, j: number, options?: UnitOptions): Promise<Sample>;
  /** True when `readSample(k, j)` reads only sample j's bytes (no whole-unit load behind it). */
  rangeReads?(k: number): boolean;
  /** True when its loaded units fetch each sample's own files (`LoadedUnit.fetchSample`). */
  readonly fetchesSamples?: boolean;
  /** Bytes one `fetchSample` is expected to transfer (for a download budget), as far as known. */
  sampleBytes?(): number;
  close(): Promise<void>;
}

/** Options every format's `open` receives (each reads the ones it understands). */
export interface FormatOpenOptions extends TextOptions {
  signal?: AbortSignal;
  /** Where bytes come from: the one fetch path (engine, node cache). */
  source: ByteSource;
  /** Keep only these columns (MDS decodes only them). */
  columns?: readonly string[];
  /** Check unit hashes listed in the index (`true`: the first algorithm listed; or a name). */
  validateHashes?: boolean | string;
  /** MDS: sub-directory holding index.json (MosaicML `split`). */
  split?: string;
  /** WebDataset: `auto` decodes text, JSON, integer and `.npy` members; `raw` keeps bytes. */
  decode?: 'auto' | 'raw';
  /** Local prefixes a remote index or list file may name (see `checkNamedUrl`). */
  allowUrls?: readonly string[];
  /** Index tables: columns holding URLs or paths of bytes to fetch. */
  urlColumns?: readonly string[];
  /** Index tables: the URL columns to fetch for each sample (default all; `[]` = metadata only). */
  columnsToDownload?: readonly string[];
  /**
   * Index tables: output column -> alternative URL columns; one is picked per sample (seeded)
   * before anything is fetched, e.g. `{ caption_emb: ['emb_a', 'emb_b', 'emb_c'] }`.
   */
  alternatives?: Readonly<Record<string, readonly string[]>>;
  /** Seed of the per-sample choices among `alternatives`. */
  seed?: number;
  /** Index tables: the column with each URL's expected size, and with its digest. */
  sizeColumn?: string;
  hashColumn?: string;
  /** Index tables: keep rows matching an expression or predicate. */
  filter?: string | RowPredicate;
  /** Index tables: save and reuse a node-local Arrow IPC copy (a directory, or true for the cache dir). */
  localCopy?: boolean | string;
  /** Index tables: rows per unit when the file has no row groups of its own (default 4096). */
  chunkRows?: number;
  /** CSV: delimiter (default from the extension) and rows read to infer types. */
  delimiter?: string;
  inferRows?: number;
}

/**
 * A shard format: detection (by name, by probing the location) and opening. Register one with
 * `registerFormat`; `openDataset`, the `streams` CLI and `StreamingDataset` then read it.
 */
export interface ShardFormat {
  /** Registry name, also the `--format` value. */
  readonly name: DatasetFormat;
  /** What it reads, for messages (`MosaicML MDS (index.json + shards)`). */
  readonly description: string;
  /** True when `validateHashes` means something for it (its index lists digests). */
  readonly validatesHashes?: boolean;
  /**
   * How sure the format is, from the name alone, that `url` is its own: 1 certain, between 0 and
   * 1 likely but worth a probe by formats that also claim it, 0 no.
   */
  matchName?(url: string): number;
  /** Looks at the location (an index.json inside, the first bytes...) when names do not decide. */
  probe?(url: string, source: ByteSource, signal?: AbortSignal): Promise<boolean>;
  open(url: string, options: FormatOpenOptions): Promise<FormatDataset>;
}
