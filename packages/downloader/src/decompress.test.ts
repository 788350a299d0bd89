import { readFile } from 'node:fs/promises';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  type Compression,
  compressionOf,
  compressionOfExtension,
  decompressBytes,
} from './decompress.js';

describe('compressionOf', () => {
  it('knows the extensions the engine decompresses', () => {
    expect(compressionOf('/a/shard.00000.mds.zstd')).toEqual({
      compression: 'zstd',
      stripped: '/a/shard.00000.mds',
    });
    expect(compressionOf('x.tar.GZ')).toEqual({ compression: 'gzip', stripped: 'x.tar' });
    expect(compressionOf('x.bz2')?.compression).toBe('bzip2');
    expect(compressionOf('x.br')?.compression).toBe('brotli');
    expect(compressionOf('x.zst')?.compression).toBe('zstd');
    expect(compressionOf('x.mds.snappy')?.compression).toBe('snappy');
    expect(compressionOf('x.bin')).toBeUndefined();
    expect(compressionOf('.gz')).toBeUndefined();
  });
});

describe('decompressBytes', () => {
  it('undoes every codec in memory, as plain Uint8Arrays', async () => {
    const fixtures = new URL('../test/fixtures/', import.meta.url);
    const text = await decompressBytes('zstd', await readFile(new URL('sample.txt.zst', fixtures)));
    const { compress } = await import('snappyjs');
    const quick = { params: { [constants.BROTLI_PARAM_QUALITY]: 4 } };
    const inputs: Record<Compression, Uint8Array> = {
      gzip: gzipSync(text),
      brotli: brotliCompressSync(text, quick),
      zstd: await readFile(new URL('sample.txt.zst', fixtures)),
      bzip2: await readFile(new URL('sample.txt.bz2', fixtures)),
      snappy: compress(text),
    };
    expect(text.byteLength).toBeGreaterThan(1000);
    for (const [codec, data] of Object.entries(inputs) as Array<[Compression, Uint8Array]>) {
      const out = await decompressBytes(codec, data);
      expect({ codec, plain: Object.getPrototypeOf(out) === Uint8Array.prototype }).toEqual({
        codec,
        plain: true,
      });
      expect(Buffer.from(out).equals(Buffer.from(text))).toBe(true);
    }
  });

  it('names the codec of an MDS compression family and fails corrupt input with a code', async () => {
    expect(
      ['gz', 'bz2', 'zstd', 'br', 'snappy', '.zst', 'bin'].map(compressionOfExtension),
    ).toEqual(['gzip', 'bzip2', 'zstd', 'brotli', 'snappy', 'zstd', undefined]);
    for (const codec of ['gzip', 'bzip2', 'zstd', 'brotli'] as const)
      await expect(
        decompressBytes(codec, new TextEncoder().encode('not compressed')),
      ).rejects.toMatchObject({
        code: 'STREAMS_DECODE_FAILED',
      });
  });
});
