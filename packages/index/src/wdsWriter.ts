import { createHash } from 'node:crypto';
import { mkdir, readdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { StreamsError, throwIfAborted } from '@streams/core';
import { WIDS_INDEX_NAME, WIDS_KIND, type WidsIndex, type WidsShard } from './formats/wids.js';
import { isNpyValue, npyBytes } from './npy.js';
import { tooDeepForJson } from './pyJson.js';
import { checkMemberName } from './tarReader.js';
import { toLocalPath } from './urls.js';

const gzipAsync = promisify(gzip);
const enc = new TextEncoder();

/** Options of {@link WdsWriter}. */
export interface WdsWriterOptions {
  /** Output directory; must be empty or missing unless `overwrite`. */
  out: string;
  /** Start a new shard past this many bytes (default 1 GiB). */
  maxShardBytes?: number;
  /** Start a new shard past this many samples (default unlimited). */
  maxShardSamples?: number;
  /** `gz` writes `.tar.gz` shards. */
  compression?: 'gz' | null;
  /** Shard file name pattern; `%06d` is the shard number (default `shard-%06d.tar`). */
  pattern?: string;
  overwrite?: boolean;
  signal?: AbortSignal;
}

/**
 * Bytes of one member: bytes as is, encoded images as their file, text as UTF-8, typed arrays and
 * ndarrays as `.npy`, the rest as JSON.
 */
export function wdsMemberBytes(value: unknown, column = '?'): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (isNpyValue(value)) return npyBytes(value, column);
  if (
    value &&
    typeof value === 'object' &&
    'bytes' in value &&
    value.bytes instanceof Uint8Array &&
    'format' in value
  )
    return value.bytes;
  if (typeof value === 'string') return enc.encode(value);
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean')
    return enc.encode(String(value));
  let text: string;
  try {
    text = JSON.stringify(value, (_k, x) =>
      typeof x === 'bigint'
        ? x.toString()
        : ArrayBuffer.isView(x)
          ? Array.from(x as unknown as ArrayLike<unknown>, (y) =>
              typeof y === 'bigint' ? y.toString() : y,
            )
          : x,
    );
  } catch (cause) {
    throw tooDeepForJson(cause);
  }
  return enc.encode(text);
}

// Extensions WebDataset readers decode by (the last dot-part of a member name), as Python webdataset's
// default handlers do: a column already named so keeps its name.
const KNOWN_EXTENSIONS = new Set(
  'cls cls2 index inx id txt text json jsn npy npz pyd pickle pth ten mp msgpack jpg jpeg png ppm pgm pbm pnm webp gif tif tiff bmp mp4 webm mkv avi mov ogv wav flac mp3 ogg m4a'.split(
    ' ',
  ),
);

/**
 * The member extension of a column: the column itself when its last dot-part is a WebDataset
 * extension (`jpg`, `cls`, `label.cls`), else `<column>.<ext>` by the value, so readers decode it
 * back to its type: strings `.txt`, encoded images `.jpg`/`.png`, 64-bit integers `.cls`, typed
 * arrays and ndarrays `.npy` (dtype and shape kept), other values (numbers, booleans, objects,
 * arrays) `.json`, which keeps integers and floats apart; raw bytes keep the column name.
 */
export function wdsMemberExtension(column: string, value: unknown): string {
  if (KNOWN_EXTENSIONS.has((column.split('.').pop() ?? '').toLowerCase())) return column;
  if (value instanceof Uint8Array) return column;
  if (value && typeof value === 'object' && 'bytes' in value && value.bytes instanceof Uint8Array) {
    const format = (value as { format?: unknown }).format;
    if (format === 'jpeg') return `${column}.jpg`;
    if (format === 'png') return `${column}.png`;
    return column;
  }
  if (typeof value === 'string') return `${column}.txt`;
  if (typeof value === 'bigint') return `${column}.cls`;
  if (isNpyValue(value)) return `${column}.npy`;
  return `${column}.json`;
}

function header(name: string, size: number, type = '0'): Uint8Array {
  const h = new Uint8Array(512);
  const put = (s: string, off: number, len: number) => h.set(enc.encode(s).subarray(0, len), off);
  put(name, 0, 100);
  put('0000644\0', 100, 8);
  put('0000000\0', 108, 8);
  put('0000000\0', 116, 8);
  put(`${size.toString(8).padStart(11, '0')}\0`, 124, 12);
  put('00000000000\0', 136, 12); // mtime 0: the same samples give the same bytes
  put(type, 156, 1);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  h.fill(32, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  put(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  return h;
}

function padding(n: number): Uint8Array {
  return new Uint8Array((512 - (n % 512)) % 512);
}

/** Tar blocks of one member; names longer than 100 bytes get a pax `path` record. */
export function tarMember(name: string, data: Uint8Array): Uint8Array[] {
  const blocks: Uint8Array[] = [];
  if (enc.encode(name).length > 100) {
    const rec = (len: number) => `${len} path=${name}\n`;
    let len = enc.encode(rec(0)).length;
    while (enc.encode(rec(len)).length !== len) len = enc.encode(rec(len)).length;
    const pax = enc.encode(rec(len));
    blocks.push(header('././@PaxHeader', pax.length, 'x'), pax, padding(pax.length));
  }
  blocks.push(header(name, data.length), data, padding(data.length));
  return blocks;
}

/** Writes WebDataset tar shards: one member per sample column, named by {@link wdsMemberExtension}. */
export class WdsWriter {
  readonly dir: string;
  readonly #o: WdsWriterOptions;
  #blocks: Uint8Array[] = [];
  #bytes = 0;
  #samples = 0;
  #shards: WidsShard[] = [];
  #count = 0;
  readonly #members = new Map<string, string>();
  #ready: Promise<void> | undefined;

  constructor(options: WdsWriterOptions) {
    this.#o = options;
    this.dir = toLocalPath(options.out);
  }

  get count(): number {
    return this.#count;
  }

  #prepare(): Promise<void> {
    this.#ready ??= (async () => {
      await mkdir(this.dir, { recursive: true });
      if (!this.#o.overwrite && (await readdir(this.dir)).length > 0)
        throw new StreamsError(
          'STREAMS_INVALID_ARGUMENT',
          `[streams/index] output directory ${this.dir} is not empty`,
          {
            fix: 'write into a new or empty directory, or pass overwrite: true (streams convert --overwrite)',
          },
        );
    })();
    return this.#ready;
  }

  /** Adds a sample; `__key__` names it (default: its position), other `__` fields are skipped. */
  async write(sample: Record<string, unknown>): Promise<void> {
    throwIfAborted(this.#o.signal);
    await this.#prepare();
    const key =
      typeof sample.__key__ === 'string' ? sample.__key__ : String(this.#count).padStart(9, '0');
    if (key.includes('.'))
      throw new StreamsError(
        'STREAMS_INVALID_ARGUMENT',
        `[streams/index] WebDataset key "${key}" contains a dot`,
        {
          fix: 'keys name samples up to the first dot of a member name: remove dots from __key__',
        },
      );
    const blocks: Uint8Array[] = [];
    for (const [col, value] of Object.entries(sample)) {
      if (col.startsWith('__') || value === null || value === undefined) continue;
      // A column's first value names its members for the whole dataset: readers see one column.
      let member = this.#members.get(col);
      if (member === undefined) {
        member = wdsMemberExtension(col, value);
        this.#members.set(col, member);
      }
      const name = `${key}.${member}`;
      checkMemberName(name);
      blocks.push(...tarMember(name, wdsMemberBytes(value, col)));
    }
    const size = blocks.reduce((a, b) => a + b.length, 0);
    const maxBytes = this.#o.maxShardBytes ?? 2 ** 30;
    const maxSamples = this.#o.maxShardSamples ?? Number.POSITIVE_INFINITY;
    if (this.#samples > 0 && (this.#bytes + size > maxBytes || this.#samples >= maxSamples))
      await this.#flush();
    this.#blocks.push(...blocks);
    this.#bytes += size;
    this.#samples++;
    this.#count++;
  }

  async #flush(): Promise<void> {
    this.#blocks.push(new Uint8Array(1024));
    const total = this.#blocks.reduce((a, b) => a + b.length, 0);
    let data = new Uint8Array(total);
    let pos = 0;
    for (const b of this.#blocks) {
      data.set(b, pos);
      pos += b.length;
    }
    const n = String(this.#shards.length).padStart(6, '0');
    let name = (this.#o.pattern ?? 'shard-%06d.tar').replace('%06d', n);
    if (this.#o.compression === 'gz') {
      data = new Uint8Array(await gzipAsync(data, { level: 9 }));
      name = name.replace(/\.tar$/, '.tar.gz');
    }
    await atomicWrite(join(this.dir, name), data);
    this.#shards.push({
      url: name,
      nsamples: this.#samples,
      filesize: data.byteLength,
      md5sum: createHash('md5').update(data).digest('hex'),
    });
    this.#blocks = [];
    this.#bytes = 0;
    this.#samples = 0;
  }

  /**
   * Writes the last shard and the wids shard index (`shardindex.json`, as webdataset's
   * `widsindex create` names it) listing every tar with its samples, size and MD5, so readers open
   * the dataset without counting; returns the shard file names.
   */
  async finish(): Promise<string[]> {
    await this.#prepare();
    if (this.#samples > 0) await this.#flush();
    if (this.#shards.length > 0) {
      const index: WidsIndex = { __kind__: WIDS_KIND, wids_version: 1, shardlist: this.#shards };
      await atomicWrite(
        join(this.dir, WIDS_INDEX_NAME),
        enc.encode(JSON.stringify(index, null, 2)),
      );
    }
    return this.#shards.map((s) => s.url);
  }
}

/** Writes a file so that no reader sees it partly written. */
async function atomicWrite(path: string, data: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}
