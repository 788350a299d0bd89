// JSON Lines shards (`.jsonl`, `.ndjson`, gzipped; patterns, directories, list files): a file is a
// unit, one object a line.
import { gunzipIfGz, once } from '../chunkReader.js';
import { jsonlRecords } from '../textShards.js';
import { basenameUrl } from '../urls.js';
import type { FormatOpenOptions, LoadedUnit, Sample, ShardFormat, UnitOptions } from './format.js';
import { LoadedSamples, readCachedShard, ShardFileDataset, shardUnits } from './shardFiles.js';

const JSONL = /\.(jsonl|ndjson)(\.gz)?$/i;

/** Reads text shards: the records of a whole file already in memory, or of its stream. */
export abstract class TextShardDataset extends ShardFileDataset {
  constructor(
    url: string,
    units: ShardFileDataset['units'],
    protected readonly o: FormatOpenOptions,
  ) {
    super(url, units, o.source);
  }

  /** The records of one file's (gunzipped) bytes. */
  protected abstract records(
    chunks: AsyncIterable<Uint8Array>,
    url: string,
    signal?: AbortSignal,
  ): AsyncIterable<Sample>;

  async *stream(k: number, options: UnitOptions = {}): AsyncGenerator<Sample> {
    const url = this.fileOf(k);
    const signal = options.signal ?? this.o.signal;
    const raw = this.source.stream(url, { signal });
    for await (const s of this.records(gunzipIfGz(raw, url), url, signal)) {
      this.note(s);
      yield s;
    }
  }

  /**
   * A remote shard is counted from its node-cache entry (when the source has a cache that can hold
   * it), so that its first load is a cache hit rather than a second download.
   */
  protected override async countUnit(k: number, options: UnitOptions): Promise<number> {
    const url = this.fileOf(k);
    const signal = options.signal ?? this.o.signal;
    const cached = await readCachedShard(this.source, url, signal, async (file, path) => {
      let n = 0;
      for await (const s of this.records(
        gunzipIfGz(file.stream(path, { signal }), url),
        url,
        signal,
      )) {
        this.note(s);
        n++;
      }
      return n;
    });
    return cached ?? super.countUnit(k, options);
  }

  async load(k: number, options: UnitOptions = {}): Promise<LoadedUnit> {
    const url = this.fileOf(k);
    const signal = options.signal ?? this.o.signal;
    const fetched = await this.source.fetch(url, { signal, size: this.units[k]?.bytes });
    const bytes = once(fetched.bytes);
    const items: Sample[] = [];
    for await (const s of this.records(gunzipIfGz(bytes, url), url, signal)) {
      this.note(s);
      items.push(s);
    }
    this.checkLoaded(k, items.length);
    // Parsed records take a few times their text in memory.
    return new LoadedSamples(items, fetched.bytes.byteLength * 4, fetched.hit);
  }
}

class JsonlDataset extends TextShardDataset {
  readonly format = 'jsonl';
  protected records(chunks: AsyncIterable<Uint8Array>, url: string): AsyncIterable<Sample> {
    return jsonlRecords(chunks, url, this.o);
  }
}

/** JSON Lines shards: one object a line, a file a unit. */
export const jsonlFormat: ShardFormat = {
  name: 'jsonl',
  description: 'JSON Lines shards (.jsonl, .ndjson, gzipped; a pattern, directory or list of them)',
  matchName: (url) => (JSONL.test(basenameUrl(url)) ? 1 : 0),
  async open(url, o) {
    return new JsonlDataset(url, await shardUnits(url, JSONL, o), o);
  },
};
