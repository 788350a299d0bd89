// A file already at its destination, accepted when its size and digest match; a file's digest.
import { type FileHandle, open } from 'node:fs/promises';
import { createHasher, type HashAlgorithm } from './integrity.js';
import type { ParsedHash } from './transferState.js';

/** The file at `path` when it is there and matches the expected size and digest. */
export async function existingFile(
  path: string,
  o: { size?: number | undefined },
  expected: ParsedHash | undefined,
): Promise<{ path: string; size: number; digest?: string | undefined } | undefined> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const { size } = await fh.stat();
    if (o.size !== undefined && size !== o.size) return undefined;
    if (!expected) return { path, size };
    const digest = await hashFile(fh, expected.algorithm, size);
    return digest === expected.digest ? { path, size, digest } : undefined;
  } finally {
    await fh.close();
  }
}

/** Digest of the first `size` bytes of an open file, read in 4 MiB blocks. */
export async function hashFile(
  fh: FileHandle,
  algorithm: HashAlgorithm,
  size: number,
): Promise<string> {
  const hasher = await createHasher(algorithm);
  const buf = Buffer.allocUnsafe(Math.min(size, 4 << 20)); // [block]
  for (let at = 0; at < size; ) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.byteLength, size - at), at);
    if (bytesRead === 0) break;
    hasher.update(buf.subarray(0, bytesRead));
    at += bytesRead;
  }
  return hasher.digest('hex');
}
