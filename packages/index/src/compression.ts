/// <reference path="./compressjs.d.ts" />
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { StreamsError } from '@streams/core';
import { type Compression, compressionOfExtension, decompressBytes } from '@streams/downloader';

/** Compression families MDS shards may use (MosaicML names), with their file extension. */
export const COMPRESSIONS = ['br', 'bz2', 'gz', 'snappy', 'zstd'] as const;
export type CompressionFamily = (typeof COMPRESSIONS)[number];

const LEVELS: Record<CompressionFamily, { levels: number[]; default: number }> = {
  br: { levels: range(0, 11), default: 11 },
  bz2: { levels: range(1, 9), default: 9 },
  gz: { levels: range(0, 9), default: 9 },
  snappy: { levels: [], default: 0 },
  zstd: { levels: range(1, 22), default: 3 },
};

function range(a: number, b: number): number[] {
  return Array.from({ length: b - a + 1 }, (_, i) => a + i);
}

/** A parsed compression setting such as `zstd` or `zstd:7`. */
export interface CompressionSpec {
  /** The text as written in index.json, e.g. `zstd:7`. */
  name: string;
  family: CompressionFamily;
  level: number;
  /** File extension appended to compressed shards (`shard.00000.mds.zstd`). */
  extension: string;
  /** The codec that undoes it (MosaicML's family names are file extensions). */
  codec: Compression;
}

/** Parses `family[:level]`, accepting exactly what MosaicML accepts. */
export function parseCompression(name: string): CompressionSpec {
  const [fam, lvl, ...rest] = name.split(':');
  const family = fam as CompressionFamily;
  const spec = LEVELS[family];
  const bad = () =>
    new StreamsError(
      'STREAMS_UNSUPPORTED_ENCODING',
      `[streams/index] compression "${name}" is not supported`,
      {
        fix: `use one of ${COMPRESSIONS.join(', ')}, optionally with a level (e.g. zstd:7)`,
      },
    );
  if (!spec || rest.length > 0) throw bad();
  let level = spec.default;
  if (lvl !== undefined) {
    level = Number(lvl);
    if (!/^\d+$/.test(lvl) || !spec.levels.includes(level)) throw bad();
  }
  return { name, family, level, extension: family, codec: compressionOfExtension(family)! };
}

/** The bzip2 writer of compressjs (it ships no types; reading is `@streams/downloader`'s). */
interface Bzip2Codec {
  compressFile(input: Uint8Array, output: null, blockSizeMultiplier: number): Uint8Array;
}
async function bzip2(): Promise<Bzip2Codec> {
  const mod = (await import('compressjs')) as { default: { Bzip2: Bzip2Codec } };
  return mod.default.Bzip2;
}

let zstdReady: Promise<typeof import('@bokuweb/zstd-wasm')> | undefined;
function zstdWasm() {
  zstdReady ??= import('@bokuweb/zstd-wasm').then(async (m) => {
    await m.init();
    return m;
  });
  return zstdReady;
}

const gzip = promisify(zlib.gzip);
const brotliCompress = promisify(zlib.brotliCompress);

/** Compresses `data` as MosaicML's writer would for this setting. */
export async function compress(spec: CompressionSpec, data: Uint8Array): Promise<Uint8Array> {
  switch (spec.family) {
    case 'gz':
      return new Uint8Array(await gzip(data, { level: spec.level }));
    case 'br':
      return new Uint8Array(
        await brotliCompress(data, {
          params: {
            [zlib.constants.BROTLI_PARAM_QUALITY]: spec.level,
            [zlib.constants.BROTLI_PARAM_SIZE_HINT]: data.length,
          },
        }),
      );
    case 'bz2': {
      return (await bzip2()).compressFile(data, null, spec.level);
    }
    case 'snappy': {
      const { compress: snappy } = await import('snappyjs');
      return snappy(data);
    }
    case 'zstd':
      return (await zstdWasm()).compress(data, spec.level);
  }
}

/** Decompresses shard bytes; corrupt input becomes a `STREAMS_SHARD_CORRUPT` error. */
export async function decompress(
  spec: CompressionSpec,
  data: Uint8Array,
  where: { shard?: string; url?: string } = {},
): Promise<Uint8Array> {
  try {
    return await decompressBytes(spec.codec, data);
  } catch (err) {
    const cause = (err as Error).cause ?? err;
    throw new StreamsError(
      'STREAMS_SHARD_CORRUPT',
      `[streams/index] cannot decompress ${spec.family} shard: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause, shard: where.shard, url: where.url, fix: 'download the shard again or rewrite it' },
    );
  }
}
