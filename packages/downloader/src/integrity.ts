import { createHash } from 'node:crypto';
import { StreamsError } from '@streams/core';

/** An incremental digest: `update` with each chunk, then `digest('hex')` once. */
export interface Hasher {
  update(data: Uint8Array): unknown;
  digest(encoding: 'hex'): string;
}

type HashWasm = typeof import('hash-wasm');

/** How one algorithm is computed: node:crypto (OpenSSL) where it has it, else hash-wasm. */
type Algorithm =
  | { node: string }
  | {
      create: (h: HashWasm) => Promise<Hasher>;
      once: (h: HashWasm, data: Uint8Array) => Promise<string>;
    };

const node = (name: string): Algorithm => ({ node: name });

/**
 * Every digest the packages compute, by name: the engine's short names and the names Python's
 * `hashlib` and `xxhash` use (and with them MosaicML streaming's `index.json`; blake2 with its
 * default 64-byte b and 32-byte s digests). `xxh3` is `xxh3_64`, `xxh128` is `xxh3_128`.
 */
const ALGORITHMS = {
  sha256: node('sha256'),
  sha1: node('sha1'),
  md5: node('md5'),
  sha512: node('sha512'),
  sha224: node('sha224'),
  sha384: node('sha384'),
  sha512_224: node('sha512-224'),
  sha512_256: node('sha512-256'),
  sha3_224: node('sha3-224'),
  sha3_256: node('sha3-256'),
  sha3_384: node('sha3-384'),
  sha3_512: node('sha3-512'),
  blake2b: node('blake2b512'),
  blake2s: node('blake2s256'),
  xxh32: { create: (h) => h.createXXHash32(), once: (h, d) => h.xxhash32(d) },
  xxh64: { create: (h) => h.createXXHash64(), once: (h, d) => h.xxhash64(d) },
  xxh3: { create: (h) => h.createXXHash3(), once: (h, d) => h.xxhash3(d) },
  xxh3_64: { create: (h) => h.createXXHash3(), once: (h, d) => h.xxhash3(d) },
  xxh128: { create: (h) => h.createXXHash128(), once: (h, d) => h.xxhash128(d) },
  xxh3_128: { create: (h) => h.createXXHash128(), once: (h, d) => h.xxhash128(d) },
  blake3: { create: (h) => h.createBLAKE3(), once: (h, d) => h.blake3(d) },
  crc32: { create: (h) => h.createCRC32(), once: (h, d) => h.crc32(d) },
} satisfies Record<string, Algorithm>;

/** A digest algorithm name (see {@link HASH_ALGORITHMS}). */
export type HashAlgorithm = keyof typeof ALGORITHMS;

/** Every digest algorithm the engine checks and {@link hashBytes} computes. */
export const HASH_ALGORITHMS = Object.keys(ALGORITHMS) as readonly HashAlgorithm[];

/**
 * The names Python's `hashlib` and `xxhash` give these algorithms, which MosaicML streaming's
 * `get_hash` (and so an MDS `index.json`) uses: all but the engine's own short names.
 */
export const PYTHON_HASH_ALGORITHMS: readonly HashAlgorithm[] = HASH_ALGORITHMS.filter(
  (a) => a !== 'xxh3' && a !== 'blake3' && a !== 'crc32',
);

/** An expected digest: `{ algorithm, digest }` or the string form `"sha256:<hex>"`. */
export type ExpectedHash = { algorithm: HashAlgorithm; digest: string } | string;

/** True when `name` is one of {@link HASH_ALGORITHMS}. */
export function isHashAlgorithm(name: string): name is HashAlgorithm {
  return Object.hasOwn(ALGORITHMS, name);
}

/** Parses an expected digest; hex is compared case-insensitively. */
export function parseHash(hash: ExpectedHash): { algorithm: HashAlgorithm; digest: string } {
  const obj =
    typeof hash === 'string'
      ? (() => {
          const i = hash.indexOf(':');
          return { algorithm: hash.slice(0, i), digest: hash.slice(i + 1) };
        })()
      : hash;
  const algorithm = String(obj.algorithm ?? '')
    .toLowerCase()
    .replace('-', '');
  if (!isHashAlgorithm(algorithm) || !/^[0-9a-f]+$/i.test(obj.digest ?? ''))
    throw new StreamsError(
      'STREAMS_INVALID_ARGUMENT',
      `[streams/downloader] unsupported hash "${typeof hash === 'string' ? hash : `${hash.algorithm}:${hash.digest}`}"`,
      { fix: `use one of ${HASH_ALGORITHMS.join(', ')} with a hex digest, e.g. "sha256:ab12..."` },
    );
  return { algorithm, digest: obj.digest.toLowerCase() };
}

/** An incremental hasher for one of {@link HASH_ALGORITHMS}. */
export async function createHasher(algorithm: HashAlgorithm): Promise<Hasher> {
  const a: Algorithm = lookup(algorithm);
  if ('node' in a) return createHash(a.node);
  return a.create(await import('hash-wasm'));
}

/** Hex digest of `data`; with a Python name it equals MosaicML streaming's `get_hash(algo, data)`. */
export async function hashBytes(algorithm: string, data: Uint8Array): Promise<string> {
  const a: Algorithm = lookup(algorithm);
  if ('node' in a) return createHash(a.node).update(data).digest('hex');
  return a.once(await import('hash-wasm'), data);
}

function lookup(algorithm: string): Algorithm {
  if (isHashAlgorithm(algorithm)) return ALGORITHMS[algorithm];
  throw new StreamsError(
    'STREAMS_INVALID_ARGUMENT',
    `[streams/downloader] unknown hash algorithm "${algorithm}"`,
    { fix: `use one of ${HASH_ALGORITHMS.join(', ')}` },
  );
}
