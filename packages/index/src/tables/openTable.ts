// Opening an index table (loaded by `openIndexTable` on first use, with Apache Arrow): resolving
// its files, opening each as a part, unifying their schemas, filtering, and the table's readers.
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StreamsError, settings, throwIfAborted } from '@streams/core';
import { Field, type RecordBatch, RecordBatchFileWriter, Schema, Table, Utf8 } from 'apache-arrow';
import { toArrowVector } from '../arrowConvert.js';
import type { ByteSource } from '../byteSource.js';
import { typeName } from '../plainValue.js';
import { RoutingByteSource } from '../routingByteSource.js';
import { compileFilter, type RowPredicate } from '../rowFilter.js';
import { expandBraces, globToRegExp } from '../shardList.js';
import {
  basenameUrl,
  checkNamedUrl,
  dirnameUrl,
  isRemoteUrl,
  joinUrl,
  toLocalPath,
} from '../urls.js';
import { arrowPart } from './arrowIpc.js';
import { csvPart } from './csvTable.js';
import { dirPart, listPart } from './fileListing.js';
import {
  type IndexTable,
  type IndexTableOptions,
  type TableFormat,
  type TableUnit,
  tableFormatOf,
  URL_COLUMN_NAMES,
} from './indexTableSpec.js';
import { jsonlPart, jsonPart } from './jsonTable.js';
import { parquetPart } from './parquet.js';
import { rowReader } from './rowReader.js';
import { RunRows } from './runRows.js';
import {
  batchOf,
  DEFAULT_CHUNK_ROWS,
  invalid,
  type PartOptions,
  type TablePart,
} from './tablePart.js';

const SIZE_NAMES = ['size', 'bytes', 'nbytes', 'file_size', 'size_bytes'];
const HASH_NAMES = ['sha256', 'sha1', 'md5', 'xxh64', 'hash', 'checksum'];

/** Opens an index table (what `openIndexTable` does once it has loaded this module). */
export async function openTable(
  spec: string,
  options: IndexTableOptions = {},
): Promise<IndexTable> {
  const source = options.source ?? new RoutingByteSource();
  const owns = options.source === undefined;
  const parts: TablePart[] = [];
  try {
    const { files, format, base } = await resolveTableFiles(spec, source, options);
    const filter =
      typeof options.filter === 'string' ? compileFilter(options.filter) : options.filter;
    const copyDir =
      options.localCopy === true
        ? join(settings().cacheDir, 'index')
        : typeof options.localCopy === 'string'
          ? toLocalPath(options.localCopy)
          : undefined;
    const partOptions: PartOptions = {
      ...options,
      source,
      chunkRows: options.batchSize ?? DEFAULT_CHUNK_ROWS,
    };
    let copyKey: string | undefined;
    if (copyDir) {
      const sizes = await Promise.all(
        files.map((f) => (format === 'dir' || format === 'list' ? 0 : source.size(f, options))),
      );
      copyKey = createHash('sha1')
        .update(JSON.stringify([spec, files, sizes, String(options.filter ?? ''), 2]))
        .digest('hex');
      const cached = await openLocalCopy(copyDir, copyKey, partOptions);
      if (cached) {
        parts.push(cached);
        return await makeTable(spec, base, files, parts, undefined, options, source, owns, true);
      }
    }
    for (const url of files) {
      throwIfAborted(options.signal);
      parts.push(await openPart(url, format, partOptions));
    }
    const table = await makeTable(spec, base, files, parts, filter, options, source, owns, false);
    if (copyDir && copyKey) {
      await mkdir(copyDir, { recursive: true });
      await table.saveIpc(join(copyDir, `${copyKey}.arrow`), options);
      await writeFile(
        join(copyDir, `${copyKey}.json`),
        JSON.stringify({ source: spec, numRows: table.numRows }),
      );
    }
    return table;
  } catch (e) {
    await Promise.all(parts.map((p) => p.close?.()));
    if (owns) await source.close();
    throw e;
  }
}

function openPart(url: string, format: TableFormat, o: PartOptions): Promise<TablePart> {
  switch (format) {
    case 'parquet':
      return parquetPart(url, o);
    case 'arrow':
      return arrowPart(url, o);
    case 'csv':
    case 'tsv':
      return csvPart(url, { ...o, delimiter: format === 'tsv' ? '\t' : ',' });
    case 'jsonl':
      return jsonlPart(url, o);
    case 'json':
      return jsonPart(url, o);
    case 'list':
      return listPart(url, o);
    case 'dir':
      return dirPart(url, o);
  }
}

async function resolveTableFiles(
  spec: string,
  source: ByteSource,
  options: IndexTableOptions,
): Promise<{ files: string[]; format: TableFormat; base: string }> {
  const signal = options.signal;
  let files: string[];
  if (/\{[^{}]*\}/.test(spec)) files = expandBraces(spec);
  else {
    const name = basenameUrl(spec);
    if (name.includes('*') || name.includes('?')) {
      const re = globToRegExp(name);
      files = (await source.list(dirnameUrl(spec), { signal })).filter((u) =>
        re.test(basenameUrl(u)),
      );
      if (files.length === 0)
        throw new StreamsError('STREAMS_NOT_FOUND', `[streams/index] no file matches ${spec}`, {
          url: spec,
          fix: 'check the pattern and the directory',
        });
    } else files = [spec];
  }
  const single = files.length === 1 ? (files[0] as string) : undefined;
  if (options.format === 'dir' || (single && !options.format && !tableFormatOf(single))) {
    // No table extension: a directory of index files of one format, else a directory to scan.
    const url = single ?? spec;
    if (!isRemoteUrl(url)) await source.size(url, { signal });
    if (options.format !== 'dir') {
      const entries = (await source.list(url, { signal }).catch(() => [] as string[])).filter(
        (u) => !basenameUrl(u).startsWith('.'),
      );
      const formats = new Set(entries.map((u) => tableFormatOf(u)));
      const only = [...formats][0];
      if (entries.length > 0 && formats.size === 1 && only && only !== 'list')
        return { files: entries, format: only, base: url };
    }
    return { files: [url], format: 'dir', base: url };
  }
  const format = options.format ?? tableFormatOf(files[0] as string);
  if (!format)
    throw invalid(
      `cannot tell the format of ${files[0]}`,
      spec,
      undefined,
      'use .parquet, .arrow, .csv, .tsv, .json, .jsonl or .txt, or pass format',
    );
  for (const f of files) {
    const ff = options.format ?? tableFormatOf(f);
    if (ff !== format)
      throw new StreamsError(
        'STREAMS_SCHEMA_MISMATCH',
        `[streams/index] ${basenameUrl(f)} is ${ff ?? 'unknown'}, the first file is ${format}`,
        { url: f, fix: 'use one file format per index' },
      );
  }
  return { files, format, base: dirnameUrl(files[0] as string) };
}

// ---------- Node-local IPC copy ----------

async function openLocalCopy(
  dir: string,
  key: string,
  options: PartOptions,
): Promise<TablePart | undefined> {
  try {
    JSON.parse(await readFile(join(dir, `${key}.json`), 'utf8'));
  } catch {
    return undefined;
  }
  try {
    return await arrowPart(join(dir, `${key}.arrow`), options);
  } catch {
    return undefined; // a damaged copy is made again
  }
}

// ---------- The table ----------

function unifySchema(parts: TablePart[]): Schema {
  const fields = new Map<string, { field: Field; from: string }>();
  for (const p of parts) {
    for (const f of p.fields) {
      const prev = fields.get(f.name);
      if (!prev || String(prev.field.type) === 'Null') {
        fields.set(f.name, { field: f, from: p.url });
        continue;
      }
      if (String(f.type) === 'Null') continue;
      if (String(prev.field.type) !== String(f.type))
        throw new StreamsError(
          'STREAMS_SCHEMA_MISMATCH',
          `[streams/index] column "${f.name}" is ${typeName(f.type)} in ${basenameUrl(p.url)} but ${typeName(prev.field.type)} in ${basenameUrl(prev.from)}`,
          { url: p.url, fix: `give column "${f.name}" one type in every file of the index` },
        );
    }
  }
  return new Schema([...fields.values()].map((x) => new Field(x.field.name, x.field.type, true)));
}

/** Re-shapes a batch to the unified schema: missing columns become nulls. */
function conform(batch: RecordBatch, schema: Schema): RecordBatch {
  if (
    batch.schema.fields.length === schema.fields.length &&
    batch.schema.fields.every((f, i) => f.name === schema.fields[i]?.name)
  )
    return batch;
  const vectors = schema.fields.map((f) => {
    const v = batch.getChild(f.name);
    return v ?? toArrowVector(new Array(batch.numRows).fill(null), f.type);
  });
  return batchOf(schema.fields, vectors, batch.numRows);
}

/** The rows of `b` matching `filter`, as a batch (the same batch when all match). */
function filterBatch(b: RecordBatch, schema: Schema, filter: RowPredicate): RecordBatch {
  const keep: number[] = [];
  for (let i = 0; i < b.numRows; i++) if (filter(rowReader(b)(i))) keep.push(i);
  if (keep.length === b.numRows) return b;
  const vectors = schema.fields.map((f) => {
    const col = b.getChild(f.name);
    return toArrowVector(
      keep.map((i) => col?.get(i) ?? null),
      f.type,
    );
  });
  return batchOf(schema.fields, vectors, keep.length);
}

async function makeTable(
  spec: string,
  base: string,
  files: string[],
  parts: TablePart[],
  filter: RowPredicate | undefined,
  options: IndexTableOptions,
  source: ByteSource,
  owns: boolean,
  fromCopy: boolean,
): Promise<IndexTable> {
  const schema = unifySchema(parts);
  const names = schema.fields.map((f) => f.name);
  for (const c of options.urlColumns ?? []) {
    if (!names.includes(c))
      throw new StreamsError(
        'STREAMS_INDEX_INVALID',
        `[streams/index] URL column "${c}" is not in the index`,
        {
          url: spec,
          fix: `choose among ${names.join(', ')}`,
        },
      );
  }
  const isScan =
    parts.some((p) => p.url === base) || files.some((f) => tableFormatOf(f) === 'list');
  const urlColumns =
    options.urlColumns ??
    (isScan
      ? names.filter((n) => n !== '__key__')
      : names.filter(
          (n) =>
            URL_COLUMN_NAMES.test(n) &&
            schema.fields.find((f) => f.name === n)?.type instanceof Utf8,
        ));
  const sizeColumn = options.sizeColumn ?? SIZE_NAMES.find((n) => names.includes(n));
  const hashColumn = options.hashColumn ?? HASH_NAMES.find((n) => names.includes(n));
  for (const [what, c] of [
    ['size', options.sizeColumn],
    ['hash', options.hashColumn],
  ] as const)
    if (c !== undefined && !names.includes(c))
      throw new StreamsError(
        'STREAMS_INDEX_INVALID',
        `[streams/index] ${what} column "${c}" is not in the index`,
        {
          url: spec,
          fix: `choose among ${names.join(', ')}`,
        },
      );
  const urlBase = isScan && parts[0]?.url === base ? base : dirnameUrl(files[0] ?? spec);
  const chunks = parts.flatMap((p) => {
    let at = 0;
    return p.chunks.map((c) => {
      const fileRows: [number, number] = [at, at + c.rows];
      at += c.rows;
      return { part: p, chunk: c, fileRows };
    });
  });
  const load = async (k: number, signal?: AbortSignal): Promise<RecordBatch> => {
    const c = chunks[k];
    if (!c)
      throw new StreamsError(
        'STREAMS_INVALID_ARGUMENT',
        `[streams/index] unit ${k} is outside the index's ${chunks.length} units`,
        { url: spec, fix: `ask for a unit in [0, ${chunks.length})` },
      );
    throwIfAborted(signal);
    const b = conform(await c.chunk.load(signal), schema);
    return filter ? filterBatch(b, schema, filter) : b;
  };
  // Rows per unit: what the files say, or with a filter, what a pass over them keeps.
  const counts = chunks.map((c) => c.chunk.rows);
  if (filter)
    for (let k = 0; k < chunks.length; k++) counts[k] = (await load(k, options.signal)).numRows;
  const units: TableUnit[] = [];
  let numRows = 0;
  chunks.forEach((c, k) => {
    const rows = counts[k] as number;
    units.push({ file: c.part.url, rows, firstRow: numRows, fileRows: c.fileRows });
    numRows += rows;
  });
  // Where the rows come from: a remote index may not name local files.
  const origin = files.find(isRemoteUrl) ?? spec;
  // Only a remote index's URLs are checked (see checkNamedUrl): a local one makes no error context.
  const remoteOrigin = isRemoteUrl(origin);
  const resolveUrl = (v: string, where?: string) => {
    const url = joinUrl(urlBase, v);
    if (remoteOrigin) checkNamedUrl(url, origin, options.allowUrls, where);
    return url;
  };
  const rowOf = (b: RecordBatch, r: number, where: string | (() => string) = '') => {
    const row = rowReader(b)(r);
    for (const c of urlColumns) {
      const v = row[c];
      if (typeof v !== 'string' || v === '') continue;
      row[c] = remoteOrigin
        ? resolveUrl(v, `${typeof where === 'string' ? where : where()}column "${c}" `)
        : joinUrl(urlBase, v);
    }
    return row;
  };
  async function* batches(signal?: AbortSignal): AsyncGenerator<RecordBatch> {
    for (let k = 0; k < units.length; k++) {
      if (units[k]?.rows === 0) continue;
      yield await load(k, signal);
    }
  }
  const close = async () => {
    await Promise.all(parts.map((p) => p.close?.()));
    if (owns) await source.close();
  };
  return {
    url: spec,
    files,
    numRows,
    schema,
    urlColumns,
    metadataColumns: names.filter((n) => !urlColumns.includes(n)),
    sizeColumn,
    hashColumn,
    servedFrom: fromCopy ? 'localCopy' : 'source',
    units,
    loadUnit: (k, o = {}) => load(k, o.signal ?? options.signal),
    batches: (o = {}) => batches(o.signal ?? options.signal),
    rows(o = {}) {
      const start = o.start ?? 0;
      const end = Math.min(o.end ?? Number.POSITIVE_INFINITY, numRows);
      let k = 0;
      return new RunRows(async () => {
        for (; k < units.length; k++) {
          const u = units[k] as TableUnit;
          if (u.firstRow + u.rows <= start || u.rows === 0) continue;
          if (u.firstRow >= end) return undefined;
          const b = await load(k++, o.signal ?? options.signal);
          return {
            row: (r: number) => rowOf(b, r, () => `row ${u.firstRow + r}, `),
            from: Math.max(0, start - u.firstRow),
            to: Math.min(b.numRows, end - u.firstRow),
          };
        }
        return undefined;
      });
    },
    rowOf,
    resolveUrl: (v) => resolveUrl(v),
    async toTable(o = {}) {
      const all: RecordBatch[] = [];
      for await (const b of batches(o.signal ?? options.signal)) all.push(b);
      return all.length > 0 ? new Table(all) : new Table(schema);
    },
    async saveIpc(path, o = {}) {
      const tmp = `${path}.tmp-${process.pid}`;
      const fh = await open(tmp, 'w');
      try {
        const writer = new RecordBatchFileWriter();
        writer.reset(undefined, schema);
        const drain = async () => {
          for await (const chunk of writer as AsyncIterable<Uint8Array>) await fh.write(chunk);
        };
        const done = drain();
        for await (const b of batches(o.signal ?? options.signal)) writer.write(b);
        writer.finish();
        await done;
      } finally {
        await fh.close();
      }
      await rename(tmp, path);
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
