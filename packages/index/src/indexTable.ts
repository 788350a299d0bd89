import type { RecordBatch } from 'apache-arrow';
import type { IndexTable, IndexTableOptions } from './tables/indexTableSpec.js';
import { rowReader } from './tables/rowReader.js';

export {
  type IndexTable,
  type IndexTableOptions,
  type TableFormat,
  type TableUnit,
  tableFormatOf,
  URL_COLUMN_NAMES,
} from './tables/indexTableSpec.js';

/**
 * Opens an index table: CSV/TSV, JSON/JSONL, Parquet or Arrow IPC files, wildcards and brace patterns of
 * them, directories (scanned, files grouped by basename) and list files (one path or URL a line).
 *
 * ```ts
 * await using index = await openIndexTable('meta/*.parquet', { filter: 'aes_score > 4' });
 * for await (const row of index.rows()) console.log(row.url);
 * ```
 */
export async function openIndexTable(
  spec: string,
  options: IndexTableOptions = {},
): Promise<IndexTable> {
  // Apache Arrow (hundreds of modules) loads here, when a table is opened, not with the package.
  const { openTable } = await import('./tables/openTable.js');
  return openTable(spec, options);
}

/** Row i of a batch as a plain object (64-bit integers as numbers when exact). */
export function plainRow(b: RecordBatch, i: number): Record<string, unknown> {
  return rowReader(b)(i);
}
