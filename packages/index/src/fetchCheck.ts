// The one check of fetched bytes against the size and digest they were fetched with. A download
// checks both on the way; a local file, or a cache entry kept without the digest, is checked here
// (`Fetched.hashChecked` says which). Callers word the error with their own coordinates (a shard of
// index.json, a row of an index table, a tar of a shard index).
import type { Fetched } from './byteSource.js';
import { hashBytes } from './hashing.js';

/** How fetched bytes differ from what was asked: their size, or their digest. */
export type FetchMismatch = { kind: 'size'; actual: number } | { kind: 'hash'; actual: string };

/** The first way `fetched` differs from `size` and `hash`, or undefined when it matches both. */
export async function fetchMismatch(
  fetched: Fetched,
  size: number | undefined,
  hash: { algorithm: string; digest: string } | undefined,
): Promise<FetchMismatch | undefined> {
  const bytes = fetched.bytes;
  if (size !== undefined && bytes.byteLength !== size)
    return { kind: 'size', actual: bytes.byteLength };
  if (hash === undefined || fetched.hashChecked) return undefined;
  const actual = await hashBytes(hash.algorithm, bytes);
  return actual === hash.digest ? undefined : { kind: 'hash', actual };
}
