// Index tables (the Snap design): a sample is a row of an index (CSV/TSV, JSON/JSONL, Parquet, Arrow,
// a directory scan, a wildcard, a list file); a unit is a chunk of rows (a Parquet row group, an
// Arrow record batch or a fixed row count). Rows name their own files in URL columns, fetched per
// sample through the dataset's byte source (each its own node-cache entry).
import { rng, StreamsError } from '@streams/core';
import type { RecordBatch } from 'apache-arrow';
import { fetchMismatch } from '../fetchCheck.js';
import { isHashAlgorithm } from '../hashing.js';
import { type IndexTable, openIndexTable, type TableUnit, tableFormatOf } from '../indexTable.js';
import { typeName } from '../plainValue.js';
import { basenameUrl, isRemoteUrl } from '../urls.js';
import type {
  FormatDataset,
  FormatOpenOptions,
  FormatUnit,
  LoadedUnit,
  Sample,
  SampleFetchOptions,
  ShardFormat,
} from './format.js';
import { LoadedSamples } from './shardFiles.js';

/** How one URL column of a row is fetched: into which output column, checked against what. */
interface Fetch {
  /** The URL column read. */
  column: string;
  /** The output column its bytes go to. */
  out: string;
  sizeColumn: string | undefined;
  hashColumn: string | undefined;
}

const HASH_SUFFIXES = ['sha256', 'sha1', 'md5', 'xxh64', 'xxh3_64', 'hash', 'checksum'];

/** The digest a hash cell holds: `algo:hex`, or hex named by its column (`sha256`) or length. */
function parseDigest(
  value: unknown,
  column: string,
): { algorithm: string; digest: string } | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  const colon = value.indexOf(':');
  if (colon > 0) return { algorithm: value.slice(0, colon), digest: value.slice(colon + 1) };
  const named = HASH_SUFFIXES.find((h) => column === h || column.endsWith(`_${h}`));
  if (named && isHashAlgorithm(named)) return { algorithm: named, digest: value.toLowerCase() };
  const byLength: Record<number, string> = { 32: 'md5', 40: 'sha1', 64: 'sha256' };
  const algorithm = byLength[value.length];
  return algorithm ? { algorithm, digest: value.toLowerCase() } : undefined;
}

class LoadedRows implements LoadedUnit {
  constructor(
    private readonly ds: TableDataset,
    private readonly batch: RecordBatch,
    private readonly unit: TableUnit,
    readonly hit: boolean,
  ) {}
  get samples(): number {
    return this.batch.numRows;
  }
  get memoryBytes(): number {
    return this.batch.data.byteLength;
  }
  decode(j: number): Sample {
    return this.ds.table.rowOf(this.batch, j, `row ${this.unit.firstRow + j}, `);
  }
  async release(): Promise<void> {}
  fetchSample(j: number, options: SampleFetchOptions = {}): Promise<LoadedUnit> {
    return this.ds.fetchRow(this.decode(j), this.unit.firstRow + j, options);
  }
}

class TableDataset implements FormatDataset {
  readonly format = 'table';
  readonly filters = true;
  readonly units: FormatUnit[];
  readonly fetchesSamples: boolean;
  #fetched = 0;
  #fetchedBytes = 0;

  constructor(
    readonly table: IndexTable,
    private readonly fetches: Fetch[],
    private readonly alternatives: [string, readonly string[]][],
    private readonly o: FormatOpenOptions,
  ) {
    this.units = table.units.map((u) => ({
      name: `${basenameUrl(u.file)} rows ${u.fileRows[0]}-${u.fileRows[1] - 1}`,
      samples: u.rows,
      bytes: undefined,
      files: [],
    }));
    this.fetchesSamples = fetches.length > 0 || alternatives.length > 0;
  }

  get url(): string {
    return this.table.url;
  }
  get columns() {
    return this.table.schema.fields.map((f) => ({ name: f.name, type: typeName(f.type) }));
  }
  get urlColumns(): readonly string[] {
    return this.table.urlColumns;
  }
  get sizeColumn(): string | undefined {
    return this.table.sizeColumn;
  }
  get totalBytes(): undefined {
    return undefined;
  }

  async count(): Promise<number> {
    return this.table.numRows;
  }

  async load(k: number, options: { signal?: AbortSignal } = {}): Promise<LoadedUnit> {
    const unit = this.table.units[k] as TableUnit;
    const batch = await this.table.loadUnit(k, { signal: options.signal ?? this.o.signal });
    return new LoadedRows(this, batch, unit, !isRemoteUrl(unit.file));
  }

  sampleBytes(): number {
    // The mean of what rows fetched so far; before any, a guess of a small image.
    return this.#fetched === 0 ? 64 * 1024 : this.#fetchedBytes / this.#fetched;
  }

  /** Row `i` (already decoded) with its URL columns fetched and checked. */
  async fetchRow(row: Sample, i: number, options: SampleFetchOptions): Promise<LoadedUnit> {
    const signal = options.signal ?? this.o.signal;
    const jobs: Fetch[] = [...this.fetches];
    // Each job's URL is read before the unchosen alternatives' cells leave the row.
    const urls = new Map<Fetch, unknown>(jobs.map((f) => [f, row[f.column]]));
    if (this.alternatives.length > 0) {
      const choice = options.choice ?? rng(this.o.seed ?? 0, 'alternatives', i);
      const chosen: Record<string, string> = {};
      for (const [out, from] of this.alternatives) {
        const column = from[choice.int(from.length)] as string;
        chosen[out] = column;
        const job = { column, out, sizeColumn: undefined, hashColumn: undefined };
        jobs.push(job);
        urls.set(job, row[column]);
      }
      for (const [out, from] of this.alternatives)
        for (const c of from) if (c !== out) delete row[c];
      row.__chosen__ = chosen;
    }
    const got = await Promise.all(
      jobs.map(async (f) => {
        const url = urls.get(f);
        if (typeof url !== 'string' || url === '')
          throw new StreamsError(
            'STREAMS_DECODE_FAILED',
            `[streams/index] row ${i} has no URL in column "${f.column}"`,
            {
              sample: i,
              url: this.table.url,
              fix: 'fill the column, or leave the row out (a filter, or decodePolicy skip)',
            },
          );
        const sizeCell = f.sizeColumn === undefined ? undefined : row[f.sizeColumn];
        const size =
          typeof sizeCell === 'number' && Number.isSafeInteger(sizeCell) && sizeCell >= 0
            ? sizeCell
            : undefined;
        const hash =
          f.hashColumn === undefined ? undefined : parseDigest(row[f.hashColumn], f.hashColumn);
        const fetched = await this.o.source.fetch(url, { signal, size, hash });
        const bad = await fetchMismatch(
          fetched,
          size,
          hash && isHashAlgorithm(hash.algorithm) ? hash : undefined,
        );
        if (bad?.kind === 'size')
          throw new StreamsError(
            'STREAMS_SIZE_MISMATCH',
            `[streams/index] row ${i}: ${basenameUrl(url)} is ${bad.actual} bytes, column "${f.sizeColumn}" says ${size}`,
            { sample: i, url, fix: 'the file changed or the index is stale: rebuild the index' },
          );
        if (bad?.kind === 'hash')
          throw new StreamsError(
            'STREAMS_HASH_MISMATCH',
            `[streams/index] row ${i}: ${hash?.algorithm} of ${basenameUrl(url)} is ${bad.actual}, column "${f.hashColumn}" says ${hash?.digest}`,
            { sample: i, url, fix: 'the file changed or is damaged: fix it or rebuild the index' },
          );
        return { f, fetched };
      }),
    );
    let bytes = 0;
    let hit = true;
    for (const { f, fetched } of got) {
      row[f.out] = fetched.bytes;
      bytes += fetched.bytes.byteLength;
      hit &&= fetched.hit;
    }
    this.#fetched++;
    this.#fetchedBytes += bytes;
    return new LoadedSamples([row], bytes, hit);
  }

  close(): Promise<void> {
    return this.table.close();
  }
}

/** The URL columns a stream fetches, each with its size and hash columns, checked against the table. */
function plan(
  table: IndexTable,
  o: FormatOpenOptions,
): { fetches: Fetch[]; alternatives: [string, readonly string[]][] } {
  const names = table.schema.fields.map((f) => f.name);
  const unknown = (what: string, c: string) =>
    new StreamsError(
      'STREAMS_INVALID_CONFIG',
      `[streams/index] ${what} "${c}" is not a URL column of the index`,
      {
        url: table.url,
        fix: `choose among its URL columns: ${table.urlColumns.join(', ') || 'none'}`,
      },
    );
  const alternatives = Object.entries(o.alternatives ?? {});
  const inAlternatives = new Set<string>();
  for (const [out, from] of alternatives) {
    if (from.length === 0)
      throw new StreamsError(
        'STREAMS_INVALID_CONFIG',
        `[streams/index] alternatives.${out} lists no column`,
        { fix: 'give each output column two or more URL columns to choose from' },
      );
    for (const c of from) {
      if (!table.urlColumns.includes(c)) throw unknown(`alternatives.${out} column`, c);
      inAlternatives.add(c);
    }
  }
  const download = o.columnsToDownload ?? table.urlColumns.filter((c) => !inAlternatives.has(c));
  for (const c of download)
    if (!table.urlColumns.includes(c)) throw unknown('columnsToDownload', c);
  const pick = (c: string, suffixes: readonly string[], global: string | undefined) =>
    suffixes.map((s) => `${c}_${s}`).find((n) => names.includes(n)) ??
    (download.length === 1 ? global : undefined);
  return {
    fetches: download.map((column) => ({
      column,
      out: column,
      sizeColumn: pick(column, ['size', 'bytes', 'nbytes'], table.sizeColumn),
      hashColumn: pick(column, HASH_SUFFIXES, table.hashColumn),
    })),
    alternatives,
  };
}

/** Index tables: a row is a sample, its URL columns name the files fetched for it. */
export const tableFormat: ShardFormat = {
  name: 'table',
  description:
    'an index table (.parquet, .arrow, .csv/.tsv/.jsonl/.json with format table, a directory scanned, a list file of paths or URLs): a row is a sample, URL columns are fetched per row',
  matchName(url) {
    const f = tableFormatOf(url);
    // A .json file may be a WebDataset shard index instead: worth a probe by formats that say so.
    if (f === 'json') return 0.5;
    return f === 'parquet' || f === 'arrow' ? 1 : 0;
  },
  async open(url, o) {
    const table = await openIndexTable(url, {
      signal: o.signal,
      source: o.source,
      urlColumns: o.urlColumns,
      sizeColumn: o.sizeColumn,
      hashColumn: o.hashColumn,
      filter: o.filter,
      localCopy: o.localCopy,
      allowUrls: o.allowUrls,
      batchSize: o.chunkRows,
      maxLineBytes: o.maxLineBytes,
      maxCellBytes: o.maxCellBytes,
      invalidUtf8: o.invalidUtf8,
    });
    try {
      const { fetches, alternatives } = plan(table, o);
      return new TableDataset(table, fetches, alternatives, o);
    } catch (e) {
      await table.close();
      throw e;
    }
  },
};
