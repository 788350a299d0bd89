// MosaicML MDS: a directory (or URL) holding index.json, whose shards are the units.
import type { MdsDataset } from '../mdsDataset.js';
import { openMdsDataset } from '../mdsDataset.js';
import type { MdsSchema } from '../mdsShard.js';
import type { LoadedMdsShard } from '../mdsShardLoader.js';
import { basenameUrl, joinUrl } from '../urls.js';
import type {
  FormatDataset,
  FormatUnit,
  LoadedUnit,
  Sample,
  ShardFormat,
  UnitOptions,
} from './format.js';

/** An MDS shard in memory: decoding sample j slices it by the offset table checked at load. */
export class LoadedMds implements LoadedUnit {
  readonly bytes: Uint8Array;
  readonly offsets: Uint32Array; // [samples + 1]
  readonly view: DataView;
  readonly hit: boolean;
  readonly samples: number;

  constructor(
    shard: LoadedMdsShard,
    readonly schema: MdsSchema,
  ) {
    this.bytes = shard.bytes;
    this.offsets = shard.offsets;
    this.hit = shard.hit;
    this.samples = shard.offsets.length - 1;
    this.view = new DataView(shard.bytes.buffer, shard.bytes.byteOffset, shard.bytes.byteLength);
  }

  get memoryBytes(): number {
    return this.bytes.byteLength;
  }

  // The offsets were checked once at load (`mdsShardOffsets`): the hot path reads them unchecked.
  decode(j: number): Sample {
    return this.schema.decode(this.bytes, this.offsets[j]!, this.offsets[j + 1]!, this.view);
  }

  /** A byte of sample j: touching it ahead of decoding overlaps cache misses in shuffled orders. */
  touch(j: number): number {
    return this.bytes[this.offsets[j]!]!;
  }

  async release(): Promise<void> {}
}

class MdsFormatDataset implements FormatDataset {
  readonly format = 'mds';
  readonly units: FormatUnit[];
  readonly selectsColumns = true;

  constructor(readonly ds: MdsDataset) {
    this.units = ds.shards.map((s, k) => ({
      name: s.basename,
      samples: s.samples,
      bytes: s.zipBytes ?? s.rawBytes,
      files: [
        {
          url: ds.shardUrl(k),
          size: s.zipBytes ?? s.rawBytes,
          hashes: s.zipBasename ? s.zipHashes : s.hashes,
        },
      ],
    }));
  }

  get url(): string {
    return this.ds.url;
  }
  get columns() {
    return this.ds.columns.map((c) => ({ name: c.name, type: c.encoding }));
  }
  get totalBytes(): number {
    return this.ds.shards.reduce((a, s) => a + (s.zipBytes ?? s.rawBytes), 0);
  }

  async count(): Promise<number> {
    return this.ds.numSamples;
  }

  async load(k: number, options: { signal?: AbortSignal } = {}): Promise<LoadedMds> {
    return new LoadedMds(await this.ds.loadShard(k, options), this.ds.schema);
  }

  readSample(k: number, j: number, options?: UnitOptions): Promise<Sample> {
    return this.ds.readSample(k, j, options);
  }

  rangeReads(k: number): boolean {
    return this.ds.shards[k]!.compression === undefined;
  }

  close(): Promise<void> {
    return this.ds.close();
  }
}

/** MosaicML MDS (`index.json` version 2 and its shards), byte-compatible with MosaicML `streaming`. */
export const mdsFormat: ShardFormat = {
  name: 'mds',
  description: 'MosaicML MDS: a directory or URL holding index.json and its shards',
  validatesHashes: true,
  matchName: (url) => (basenameUrl(url).toLowerCase() === 'index.json' ? 1 : 0),
  async probe(url, source, signal) {
    try {
      await source.size(joinUrl(url, 'index.json'), { signal });
      return true;
    } catch {
      return false;
    }
  },
  async open(url, o) {
    const dir = basenameUrl(url) === 'index.json' ? url.replace(/\/?index\.json$/, '') : url;
    return new MdsFormatDataset(
      await openMdsDataset(dir || '.', {
        source: o.source,
        signal: o.signal,
        split: o.split,
        columns: o.columns,
        validateHashes: o.validateHashes,
      }),
    );
  },
};
