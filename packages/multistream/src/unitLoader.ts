// Unit loading: every stream opened through its shard format with the dataset's own engine and node
// cache (index files, units and per-row files all take that one fetch path), and the loads the
// prefetch window asks for (a unit, or for index tables the files of one row), through one pool.
import type { DiskCache } from '@streams/cache';
import { isAbortError, isStreamsError, rng, StreamsError } from '@streams/core';
import { createFetchEngine, defaultEngine, type FetchEngine } from '@streams/downloader';
import {
  detectFormat,
  type FormatDataset,
  getFormat,
  isRemoteUrl,
  joinUrl,
  type LoadedUnit,
  RoutingByteSource,
  type Sample,
} from '@streams/index';
import { ShardPool } from './shardPool.js';
import { type Stream, streamLabel } from './stream.js';

/** A stream opened through its format, its units counted. */
export interface OpenStream {
  label: string;
  stream: Stream;
  ds: FormatDataset;
  /** True when its location is remote: units are downloaded through the node cache. */
  remote: boolean;
  /** Samples per unit, and the first sample of each unit in the stream (`[units + 1]`). */
  unitSizes: number[];
  unitStarts: Float64Array;
  numSamples: number;
  /** The engine its remote reads go through: media transforms read URL cells by ranges with it. */
  reader: FetchEngine;
}

/** Where a stream is read from: a local copy without a remote is read in place, a remote through the cache. */
export function streamLocation(s: Stream): { url: string; remote: boolean } {
  const remote =
    s.remote !== undefined &&
    !(s.local !== undefined && !isRemoteUrl(s.remote) && s.remote === s.local);
  const where = (remote ? s.remote : s.local) as string;
  return { url: s.split ? joinUrl(where, s.split) : where, remote: remote && isRemoteUrl(where) };
}

/**
 * The byte sources of a dataset: one per fetch engine (the user's, the shared one, or one made for
 * streams that set `downloadRetry`/`downloadTimeout`), all with the dataset's node cache.
 */
export class StreamSources {
  readonly #sources = new Map<string, RoutingByteSource>();

  constructor(
    private readonly engine: FetchEngine | undefined,
    readonly cache: DiskCache | undefined,
  ) {}

  /** The source a stream reads through. */
  for(s: Stream): RoutingByteSource {
    const { downloadRetry, downloadTimeout } = s;
    const own = !this.engine && (downloadRetry !== undefined || downloadTimeout !== undefined);
    const key = own ? `${downloadRetry}/${downloadTimeout}` : 'shared';
    let source = this.#sources.get(key);
    if (!source) {
      const engine = own
        ? createFetchEngine({
            ...(downloadRetry === undefined ? {} : { maxAttempts: downloadRetry + 1 }),
            ...(downloadTimeout === undefined ? {} : { attemptTimeoutMs: downloadTimeout }),
          })
        : (this.engine ?? defaultEngine());
      source = new RoutingByteSource({ engine, cache: this.cache });
      this.#sources.set(key, source);
    }
    return source;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#sources.values()].map((s) => s.close()));
  }
}

/** Opens every stream's index through its format and counts its units; nothing else is read. */
export async function openStreams(
  streams: readonly Stream[],
  sources: StreamSources,
  o: { signal?: AbortSignal; seed: number },
): Promise<OpenStream[]> {
  const opened: OpenStream[] = [];
  try {
    for (const [i, s] of streams.entries()) {
      const label = streamLabel(s.name, i);
      const { url, remote } = streamLocation(s);
      let ds: FormatDataset | undefined;
      try {
        const source = sources.for(s);
        const format = s.format ?? (await detectFormat(url, source, o.signal));
        ds = await getFormat(format).open(url, {
          source,
          signal: o.signal,
          validateHashes: s.validateHash,
          urlColumns: s.urlColumns,
          columnsToDownload: s.columnsToDownload,
          alternatives: s.alternatives,
          sizeColumn: s.sizeColumn,
          hashColumn: s.hashColumn,
          chunkRows: s.chunkRows,
          allowUrls: s.allowUrls,
          seed: o.seed,
        });
        await ds.count({ signal: o.signal });
      } catch (cause) {
        await ds?.close();
        if (isAbortError(cause)) throw cause;
        // The cause's code stays (STREAMS_UNSAFE_PATH, STREAMS_NOT_FOUND...): it says what is wrong.
        throw new StreamsError(
          isStreamsError(cause) ? cause.code : 'STREAMS_INDEX_INVALID',
          `[streams/multistream] cannot open the index of ${label}: ${(cause as Error).message}`,
          {
            cause,
            stream: label,
            fix: 'check that the stream remote/local/split points at a dataset (an MDS index.json, WebDataset tars, JSONL/CSV shards or an index table) and its format',
          },
        );
      }
      const unitSizes = ds.units.map((u) => u.samples ?? 0);
      const unitStarts = new Float64Array(unitSizes.length + 1); // [units + 1]
      unitSizes.forEach((n, k) => {
        unitStarts[k + 1] = unitStarts[k]! + n;
      });
      opened.push({
        label,
        stream: s,
        ds,
        remote,
        unitSizes,
        unitStarts,
        numSamples: unitStarts[unitSizes.length]!,
        reader: sources.for(s).engine,
      });
    }
    return opened;
  } catch (e) {
    await Promise.all(opened.map((s) => s.ds.close()));
    throw e;
  }
}

/** Units of a stream whose size is unknown count as this many bytes against the download budget. */
const UNKNOWN_UNIT_BYTES = 64 * 1024 * 1024;

/**
 * Under a memory limit, a local stream is read a sample at a time (range reads, where the format
 * can) when its units are larger than this share of the resident half of the limit (whole units
 * would leave the window room for fewer than this many), or when the order shuffles and the stream
 * is larger than that half (whole units would be read again and again as the order returns).
 */
const UNITS_IN_LIMIT = 8;

/**
 * What the prefetch window loads, through one reference-counted pool: units (keyed by stream and
 * unit) and, per sample (keyed by stream and the sample's index in the stream), the files of a
 * row for streams whose rows name their own files (the load waits for its unit, which the same
 * window slot holds a reference on), or the sample's own bytes for streams read in parts (local
 * units too large for the memory limit; no unit is loaded whole).
 */
export class UnitLoader {
  readonly pool: ShardPool;
  /** The epoch being read: it seeds per-row choices among alternative columns. */
  epoch = 0;
  /** The `memoryLimit` figure (infinite without one). */
  readonly memoryLimit: number;
  /**
   * Bytes units and samples may hold (loading, loaded, read ahead, lingering): half the limit.
   * The other half is headroom for memory let go that the collector has not yet returned (V8
   * frees a dropped buffer at its next collection, which external memory triggers only every
   * 64 MB or so).
   */
  readonly residentLimit: number;
  /** Per stream: read a sample at a time (see {@link UNITS_IN_LIMIT}). */
  readonly #parts: boolean[];
  private readonly seed: number;
  private readonly signal: AbortSignal;

  /**
   * Ranks of a node share its cache (`cacheBudget`, undefined without one): each downloads ahead
   * within its share of the budget, less one unit of room for the unit its consumer may wait on
   * (which starts regardless). `memoryLimit` bounds the bytes of units and samples in memory;
   * `lingerBytes` is the part of it units no longer referenced may keep.
   */
  constructor(
    readonly streams: readonly OpenStream[],
    o: {
      cacheBudget: number | undefined;
      localWorldSize: number;
      lingerBytes: number;
      memoryLimit?: number;
      /** The order reads units front to back (no shuffle). */
      sequential?: boolean;
      seed: number;
      signal: AbortSignal;
    },
  ) {
    this.seed = o.seed;
    this.signal = o.signal;
    this.memoryLimit = o.memoryLimit ?? Number.POSITIVE_INFINITY;
    this.residentLimit = this.memoryLimit / 2;
    this.#parts = streams.map((st, s) => this.#readsParts(st, s, o.sequential === true));
    const budget =
      o.cacheBudget === undefined
        ? Number.POSITIVE_INFINITY
        : o.cacheBudget / Math.max(1, o.localWorldSize) - this.largestUnit();
    this.pool = new ShardPool(
      budget,
      (key) => this.#load(key),
      Math.min(o.lingerBytes, this.residentLimit),
      this.residentLimit,
      this.#downloadsAtOnce(),
    );
  }

  /**
   * Loads that download at once when a stream fetches its rows' files: twice the engine's
   * transfers (the engine stays busy while loads are in their cache steps), not the whole window,
   * so the rows the consumer needs first are not queued behind the cache work of hundreds.
   */
  #downloadsAtOnce(): number {
    let most = 0;
    this.streams.forEach((st, s) => {
      if (this.fetchesRows(s)) most = Math.max(most, st.reader.concurrency);
    });
    return most === 0 ? Number.POSITIVE_INFINITY : 2 * most;
  }

  #readsParts(st: OpenStream, s: number, sequential: boolean): boolean {
    const { ds } = st;
    if (st.remote || ds.readSample === undefined || ds.rangeReads === undefined) return false;
    if (this.fetchesRows(s) || this.memoryLimit === Number.POSITIVE_INFINITY) return false;
    let large = false;
    let total = 0;
    for (let u = 0; u < ds.units.length; u++) {
      if (!ds.rangeReads(u)) return false;
      const bytes = this.unitMemory(s, u);
      if (bytes * UNITS_IN_LIMIT > this.residentLimit) large = true;
      total += bytes;
    }
    return large || (!sequential && total > this.residentLimit);
  }

  /** True when stream s is read a sample at a time (no unit is loaded whole). */
  readsParts(s: number): boolean {
    return this.#parts[s]!;
  }

  /** True when the window references each sample of stream s (its row's files, or its bytes). */
  refsSamples(s: number): boolean {
    return this.#parts[s]! || this.fetchesRows(s);
  }

  /** Bytes unit u of stream s takes in memory, as far as known before it is loaded. */
  unitMemory(s: number, u: number): number {
    return this.streams[s]!.ds.units[u]!.bytes ?? UNKNOWN_UNIT_BYTES;
  }

  /** Pool key of unit `u` of stream `s`. */
  static unitKey(s: number, u: number): number {
    return s * 2 * 0x100000000 + u;
  }

  /** Pool key of the files of sample `i` (its index in the stream) of stream `s`. */
  static rowKey(s: number, i: number): number {
    return (s * 2 + 1) * 0x100000000 + i;
  }

  /** True when stream s fetches each sample's own files (an index table with URL columns to fetch). */
  fetchesRows(s: number): boolean {
    return this.streams[s]!.ds.fetchesSamples === true;
  }

  /** Bytes a unit load downloads, counted against the budget (0 when nothing is downloaded). */
  unitBytes(s: number, u: number): number {
    const st = this.streams[s]!;
    const unit = st.ds.units[u]!;
    if (!st.remote || unit.files.length === 0) return 0;
    return unit.bytes ?? UNKNOWN_UNIT_BYTES;
  }

  /** Bytes one row's files are expected to take (what rows fetched so far took on average). */
  rowBytes(s: number): number {
    return Math.max(1, Math.round(this.streams[s]!.ds.sampleBytes?.() ?? 0));
  }

  /** The largest unit any remote stream downloads (the headroom a node's ranks keep). */
  largestUnit(): number {
    let max = 0; // a loop, not Math.max(...): datasets can have 100k+ units
    this.streams.forEach((st, s) => {
      for (let u = 0; u < st.ds.units.length; u++) max = Math.max(max, this.unitBytes(s, u));
    });
    return max;
  }

  /**
   * Takes the window's reference on sample j of unit u of stream s: its row's files, or its bytes
   * when the stream is read in parts.
   */
  refRow(s: number, u: number, j: number): void {
    const key = UnitLoader.rowKey(s, this.streams[s]!.unitStarts[u]! + j);
    if (this.#parts[s]) this.pool.ref(key, 0, this.sampleMemory(s, u), false);
    else {
      // A row's files do not linger: each row is read once an epoch (the node cache keeps its
      // files for the next), and a row kept from an earlier epoch would carry that epoch's choice
      // among alternative columns, where a run resumed at this epoch makes this epoch's.
      const bytes = this.rowBytes(s);
      this.pool.ref(key, bytes, bytes, false);
    }
  }

  /** Bytes a sample of unit u of stream s takes in memory, on average. */
  sampleMemory(s: number, u: number): number {
    return Math.ceil(this.unitMemory(s, u) / Math.max(1, this.streams[s]!.unitSizes[u]!));
  }

  unrefRow(s: number, u: number, j: number): void {
    this.pool.unref(UnitLoader.rowKey(s, this.streams[s]!.unitStarts[u]! + j));
  }

  /** The references of one sample read on its own (random access); returns their release. */
  refOne(s: number, u: number, j: number): () => void {
    const whole = !this.#parts[s];
    const rows = this.refsSamples(s);
    const key = UnitLoader.unitKey(s, u);
    if (whole) this.pool.ref(key, this.unitBytes(s, u), this.unitMemory(s, u));
    if (rows) this.refRow(s, u, j);
    return () => {
      if (rows) this.unrefRow(s, u, j);
      if (whole) this.pool.unref(key);
    };
  }

  /** What sample j of unit u decodes from: the unit, or its row's fetched files. */
  async loaded(s: number, u: number, j: number): Promise<{ unit: LoadedUnit; j: number }> {
    if (this.refsSamples(s)) {
      const key = UnitLoader.rowKey(s, this.streams[s]!.unitStarts[u]! + j);
      this.pool.urge(key);
      return { unit: await this.pool.get(key), j: 0 };
    }
    const key = UnitLoader.unitKey(s, u);
    this.pool.urge(key);
    return { unit: this.pool.peek(key) ?? (await this.pool.get(key)), j };
  }

  async #load(key: number): Promise<LoadedUnit> {
    const hi = Math.floor(key / 0x100000000);
    const s = Math.floor(hi / 2);
    const st = this.streams[s]!;
    const low = key % 0x100000000;
    if (hi % 2 === 0) return st.ds.load(low, { signal: this.signal });
    // A row's files: its unit first (the same window slot references it), then the row's fetch.
    let u = 0;
    let hiU = st.unitSizes.length - 1;
    while (u < hiU) {
      const mid = (u + hiU + 1) >> 1;
      if (st.unitStarts[mid]! <= low) u = mid;
      else hiU = mid - 1;
    }
    while (st.unitSizes[u] === 0) u++;
    const j = low - st.unitStarts[u]!;
    if (this.#parts[s]) {
      // Read ahead of the consumer: a large local read overlaps its work on the thread pool.
      const sample = await st.ds.readSample!(u, j, { signal: this.signal, background: true });
      return oneSample(sample, this.sampleMemory(s, u));
    }
    const unitKey = UnitLoader.unitKey(s, u);
    this.pool.urge(unitKey);
    const unit = await this.pool.get(unitKey);
    return unit.fetchSample!(j, {
      signal: this.signal,
      choice: rng(this.seed, this.epoch, 'alternatives', s, low),
    });
  }
}

/** A sample read on its own, as a loaded unit of that one sample. */
function oneSample(sample: Sample, memoryBytes: number): LoadedUnit {
  return { samples: 1, memoryBytes, hit: true, decode: () => sample, release: async () => {} };
}
