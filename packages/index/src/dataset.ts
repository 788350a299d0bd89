// `openDataset`: any registered format, detected from the location, read in order.
import type { ByteSource } from './byteSource.js';
import type { DatasetFormat, FormatOpenOptions } from './formats/format.js';
import { detectFormat, getFormat } from './formats/registry.js';
import { asSampleDataset, type SampleDataset } from './formats/sampleDataset.js';
import { RoutingByteSource } from './routingByteSource.js';

/** Options of {@link openDataset}: the format's options, with the byte source optional. */
export interface OpenDatasetOptions extends Omit<FormatOpenOptions, 'source'> {
  /** Force a format instead of detecting it from the location. */
  format?: DatasetFormat;
  /** Where bytes come from (default: local files, remote URLs through `@streams/downloader`). */
  source?: ByteSource;
}

/**
 * Opens any dataset a registered format reads: an MDS directory (index.json), WebDataset tars,
 * JSONL/CSV shards, an index table, or a format added with `registerFormat`.
 */
export async function openDataset(
  url: string,
  options: OpenDatasetOptions = {},
): Promise<SampleDataset> {
  const source = options.source ?? new RoutingByteSource();
  const owns = options.source === undefined;
  try {
    const name = options.format ?? (await detectFormat(url, source, options.signal));
    const fd = await getFormat(name).open(url, { ...options, source });
    return asSampleDataset(fd, {
      columns: options.columns,
      filter: fd.filters ? undefined : options.filter,
      onClose: owns ? () => source.close() : undefined,
    });
  } catch (e) {
    if (owns) await source.close();
    throw e;
  }
}

/** Opens WebDataset shards: a tar, a `.tar.gz`, a brace pattern, a wildcard, a directory or a list file. */
export function openWebDataset(
  spec: string,
  options: Omit<OpenDatasetOptions, 'format'> = {},
): Promise<SampleDataset> {
  return openDataset(spec, { ...options, format: 'wds' });
}

/** Opens JSONL shards (`.jsonl`, `.jsonl.gz`, a pattern, a directory or a list file) as a dataset. */
export function openJsonlDataset(
  spec: string,
  options: Omit<OpenDatasetOptions, 'format'> = {},
): Promise<SampleDataset> {
  return openDataset(spec, { ...options, format: 'jsonl' });
}

/** Opens CSV/TSV shards (`.csv`, `.tsv`, gzipped, a pattern, a directory or a list file) as a dataset. */
export function openCsvDataset(
  spec: string,
  options: Omit<OpenDatasetOptions, 'format'> = {},
): Promise<SampleDataset> {
  return openDataset(spec, { ...options, format: 'csv' });
}
