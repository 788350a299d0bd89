// MDS index files name digests as MosaicML streaming's Python writer does (hashlib and xxhash
// names). Which names those are, and the digests themselves, come from @streams/downloader, the
// one home of hashing; this module only narrows them to what an index.json may list.
import { hashBytes, PYTHON_HASH_ALGORITHMS } from '@streams/downloader';

export { hashBytes };

/** Hash algorithm names MDS index.json may list (Python hashlib and xxhash names). */
export const HASH_ALGORITHMS: readonly string[] = PYTHON_HASH_ALGORITHMS;

/** True when `algo` can be listed in an MDS index.json and computed here. */
export function isHashAlgorithm(algo: string): boolean {
  return HASH_ALGORITHMS.includes(algo);
}
