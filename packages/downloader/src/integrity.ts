import { StreamsError } from '@streams/core';
import type { IHasher } from 'hash-wasm';

/** Digest algorithms the engine checks. */
export const HASH_ALGORITHMS = [
  'sha256',
  'sha1',
  'md5',
  'xxh64',
  'xxh3',
  'xxh128',
  'sha512',
  'blake3',
  'crc32',
] as const;
export type HashAlgorithm = (typeof HASH_ALGORITHMS)[number];

/** An expected digest: `{ algorithm, digest }` or the string form `"sha256:<hex>"`. */
export type ExpectedHash = { algorithm: HashAlgorithm; digest: string } | string;

/** Parses an expected digest; hex is compared case-insensitively. */
export function parseHash(hash: ExpectedHash): { algorithm: HashAlgorithm; digest: string } {
  const obj =
    typeof hash === 'string'
      ? (() => {
          const i = hash.indexOf(':');
          return { algorithm: hash.slice(0, i) as HashAlgorithm, digest: hash.slice(i + 1) };
        })()
      : hash;
  const algorithm = obj.algorithm?.toLowerCase().replace('-', '') as HashAlgorithm;
  if (!HASH_ALGORITHMS.includes(algorithm) || !/^[0-9a-f]+$/i.test(obj.digest ?? ''))
    throw new StreamsError(
      'STREAMS_INVALID_ARGUMENT',
      `[streams/downloader] unsupported hash "${typeof hash === 'string' ? hash : `${hash.algorithm}:${hash.digest}`}"`,
      { fix: `use one of ${HASH_ALGORITHMS.join(', ')} with a hex digest, e.g. "sha256:ab12..."` },
    );
  return { algorithm, digest: obj.digest.toLowerCase() };
}

/** An incremental hasher (hash-wasm, WebAssembly) for one of {@link HASH_ALGORITHMS}. */
export async function createHasher(algorithm: HashAlgorithm): Promise<IHasher> {
  const h = await import('hash-wasm');
  switch (algorithm) {
    case 'sha256':
      return h.createSHA256();
    case 'sha1':
      return h.createSHA1();
    case 'md5':
      return h.createMD5();
    case 'sha512':
      return h.createSHA512();
    case 'xxh64':
      return h.createXXHash64();
    case 'xxh3':
      return h.createXXHash3();
    case 'xxh128':
      return h.createXXHash128();
    case 'blake3':
      return h.createBLAKE3();
    case 'crc32':
      return h.createCRC32();
  }
}
