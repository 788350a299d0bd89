import { createHash } from 'node:crypto';
import { StreamsError } from '@streams/core';

// Python hashlib names -> node:crypto names (blake2 defaults: 64-byte b, 32-byte s digests).
const NODE_HASHES: Record<string, string> = {
  md5: 'md5',
  sha1: 'sha1',
  sha224: 'sha224',
  sha256: 'sha256',
  sha384: 'sha384',
  sha512: 'sha512',
  sha512_224: 'sha512-224',
  sha512_256: 'sha512-256',
  sha3_224: 'sha3-224',
  sha3_256: 'sha3-256',
  sha3_384: 'sha3-384',
  sha3_512: 'sha3-512',
  blake2b: 'blake2b512',
  blake2s: 'blake2s256',
};
const XX_HASHES = ['xxh32', 'xxh64', 'xxh3_64', 'xxh128', 'xxh3_128'] as const;

/** Hash algorithm names MDS index.json may list (Python hashlib and xxhash names). */
export const HASH_ALGORITHMS: readonly string[] = [...Object.keys(NODE_HASHES), ...XX_HASHES];

/** True when `algo` can be computed here. */
export function isHashAlgorithm(algo: string): boolean {
  return HASH_ALGORITHMS.includes(algo);
}

/** Hex digest of `data`, identical to Python's `get_hash(algo, data)` in MosaicML streaming. */
export async function hashBytes(algo: string, data: Uint8Array): Promise<string> {
  const nodeName = NODE_HASHES[algo];
  if (nodeName) return createHash(nodeName).update(data).digest('hex');
  const hw = await import('hash-wasm');
  switch (algo) {
    case 'xxh32':
      return hw.xxhash32(data);
    case 'xxh64':
      return hw.xxhash64(data);
    case 'xxh3_64':
      return hw.xxhash3(data);
    case 'xxh128':
    case 'xxh3_128':
      return hw.xxhash128(data);
  }
  throw new StreamsError('STREAMS_INVALID_ARGUMENT', `[streams/index] unknown hash "${algo}"`, {
    fix: `use one of ${HASH_ALGORITHMS.join(', ')}`,
  });
}
