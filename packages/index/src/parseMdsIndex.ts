// Reading an MDS index.json into its shard table: every field a reader relies on is checked (the
// version, formats, columns, counts, paths that stay inside the dataset, declared sizes that can
// hold the declared samples), so a broken or lying index fails here, before any shard is read.
import { StreamsError } from '@streams/core';
import { parseCompression } from './compression.js';
import type { MdsColumn } from './mdsShard.js';
import { unsafeRelativePath } from './urls.js';

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
