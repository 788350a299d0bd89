// CSV/TSV shards (gzipped too; patterns, directories, list files): a file is a unit, a record a
// sample, with column types inferred from the file's first rows.
import { csvRecords } from '../textShards.js';
import { basenameUrl } from '../urls.js';
import type { Sample, ShardFormat } from './format.js';
import { TextShardDataset } from './jsonl.js';
import { shardUnits } from './shardFiles.js';

const CSV = /\.(csv|tsv)(\.gz)?$/i;

class CsvDataset extends TextShardDataset {
  readonly format = 'csv';
  protected records(
    chunks: AsyncIterable<Uint8Array>,
    url: string,
    signal?: AbortSignal,
  ): AsyncIterable<Sample> {
    return csvRecords(chunks, url, { ...this.o, signal });
  }
}

/** CSV/TSV shards: a header row, then one sample a record. */
export const csvFormat: ShardFormat = {
  name: 'csv',
  description: 'CSV/TSV shards (.csv, .tsv, gzipped; a pattern, directory or list of them)',
  matchName: (url) => (CSV.test(basenameUrl(url)) ? 1 : 0),
  async open(url, o) {
    return new CsvDataset(url, await shardUnits(url, CSV, o), o);
  },
};
