import { createReadStream, createWriteStream } from 'node:fs';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { brotliDecompress, createBrotliDecompress, createGunzip, gunzip } from 'node:zlib';
import { StreamsError } from '@streams/core';
import { concatBytes } from './driver.js';

/** Compressions the packages undo: on landing (the engine) and in memory (MDS shards). */
export type Compression = 'gzip' | 'bzip2' | 'zstd' | 'brotli' | 'snappy';

const EXTENSIONS: ReadonlyArray<[string, Compression]> = [
  ['.gz', 'gzip'],
  ['.gzip', 'gzip'],
  ['.bz2', 'bzip2'],
  ['.zst', 'zstd'],
  ['.zstd', 'zstd'], // MosaicML MDS shards: shard.00000.mds.zstd
  ['.br', 'brotli'],
  ['.snappy', 'snappy'], // MDS shards compressed with python-snappy (raw format, one block)
];

/** The compression a file extension names (`gz`, `.zst`, `bz2`, ... as MDS writes them), if any. */
export function compressionOfExtension(extension: string): Compression | undefined {
  const ext = `.${extension.replace(/^\./, '').toLowerCase()}`;
  return EXTENSIONS.find(([e]) => e === ext)?.[1];
}

/** The compression a path's extension names, with the path minus that extension. */
export function compressionOf(
  path: string,
): { compression: Compression; stripped: string } | undefined {
  const lower = path.toLowerCase();
  for (const [ext, compression] of EXTENSIONS)
    if (lower.endsWith(ext) && lower.length > ext.length)
      return { compression, stripped: path.slice(0, -ext.length) };
  return undefined;
}

/**
 * A streaming decoder for `compression` (node zlib for gzip/brotli, unbzip2-stream, fzstd). Raw
 * snappy has no streaming form: its decoder gathers the input and decodes it at the end.
 */
export async function createDecompressor(
  compression: Compression,
): Promise<NodeJS.ReadWriteStream> {
  switch (compression) {
    case 'snappy': {
      const { uncompress } = await import('snappyjs');
      const chunks: Buffer[] = [];
      return new Transform({
        transform(chunk: Buffer, _enc, cb) {
          chunks.push(chunk);
          cb();
        },
        flush(cb) {
          try {
            this.push(Buffer.from(uncompress(Buffer.concat(chunks))));
            cb();
          } catch (err) {
            cb(err as Error);
          }
        },
      });
    }
    case 'gzip':
      return createGunzip();
    case 'brotli':
      return createBrotliDecompress();
    case 'bzip2': {
      const { default: unbzip2 } = await import('unbzip2-stream');
      return unbzip2() as unknown as NodeJS.ReadWriteStream;
    }
    case 'zstd': {
      const { Decompress } = await import('fzstd');
      let decoder: InstanceType<typeof Decompress> | undefined;
      const t = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          try {
            decoder!.push(chunk);
            cb();
          } catch (err) {
            cb(err as Error);
          }
        },
        flush(cb) {
          try {
            decoder!.push(new Uint8Array(0), true);
            cb();
          } catch (err) {
            cb(err as Error);
          }
        },
      });
      // fzstd may reuse its output window: copy before handing chunks on.
      decoder = new Decompress((data) => {
        if (data.byteLength > 0) t.push(Buffer.from(data));
      });
      return t;
    }
  }
}

const gunzipBytes = promisify(gunzip);
const brotliBytes = promisify(brotliDecompress);

/**
 * Decompresses bytes in memory (e.g. an MDS shard). gzip and brotli go through node:zlib's
 * one-shot calls, zstd and snappy through their one-shot decoders, bzip2 through the streaming
 * decoder. Corrupt input is `STREAMS_DECODE_FAILED`.
 */
export async function decompressBytes(
  compression: Compression,
  data: Uint8Array,
): Promise<Uint8Array> {
  try {
    switch (compression) {
      case 'gzip':
        return plain(await gunzipBytes(data));
      case 'brotli':
        return plain(await brotliBytes(data));
      case 'zstd': {
        // fzstd is pure JS and also reads frames without a content size (streaming writers).
        const { decompress } = await import('fzstd');
        return decompress(data);
      }
      case 'snappy': {
        const { uncompress } = await import('snappyjs');
        return uncompress(data);
      }
      case 'bzip2': {
        const chunks: Uint8Array[] = [];
        await pipeline(
          Readable.from([Buffer.from(data.buffer, data.byteOffset, data.byteLength)], {
            objectMode: false,
          }),
          await createDecompressor('bzip2'),
          new Writable({
            write(chunk: Buffer, _enc, cb) {
              chunks.push(chunk);
              cb();
            },
          }),
        );
        return plain(concatBytes(chunks));
      }
    }
  } catch (cause) {
    throw new StreamsError(
      'STREAMS_DECODE_FAILED',
      `[streams/downloader] cannot decompress ${compression} data: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause, fix: 'check that the data really is compressed as its name says' },
    );
  }
}

/** A plain Uint8Array view of a Buffer (callers hand slices on as plain bytes). */
function plain(bytes: Uint8Array): Uint8Array {
  return Buffer.isBuffer(bytes)
    ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    : bytes;
}

/** Decompresses file `src` into new file `dest` (which must not exist). */
export async function decompressFile(
  src: string,
  dest: string,
  compression: Compression,
  options: { signal?: AbortSignal | undefined; url?: string } = {},
): Promise<void> {
  try {
    await pipeline(
      createReadStream(src, { highWaterMark: 1 << 20 }),
      await createDecompressor(compression),
      createWriteStream(dest, { flags: 'wx' }),
      { signal: options.signal },
    );
  } catch (err) {
    if ((err as { name?: string }).name === 'AbortError') throw err;
    throw new StreamsError(
      'STREAMS_DECODE_FAILED',
      `[streams/downloader] cannot decompress ${compression} data: ${(err as Error).message}`,
      {
        url: options.url,
        cause: err,
        fix: 'check that the object really is compressed as its extension says',
      },
    );
  }
}
