import { createHash } from 'node:crypto';
import { StreamsError } from '@streams/core';

const MAX_KEY_LENGTH = 4096;

/**
 * Checks that `key` is a safe relative POSIX path: non-empty, no NUL, no backslash, not absolute
 * (no leading `/`, no drive letter), no empty, `.` or `..` segment. Throws `STREAMS_UNSAFE_PATH`.
 */
export function validateKey(key: unknown): asserts key is string {
  const fail = (why: string): never => {
    throw new StreamsError(
      'STREAMS_UNSAFE_PATH',
      `[streams/cache] unsafe cache key ${JSON.stringify(String(key)).slice(0, 200)}: ${why}`,
      {
        fix: 'use a relative POSIX path such as "s3/bucket/shard.00001.mds" (segments separated by a single "/", no "..")',
      },
    );
  };
  if (typeof key !== 'string') return fail(`expected a string, got ${typeof key}`);
  if (key.length === 0) return fail('the key is empty');
  if (key.length > MAX_KEY_LENGTH) return fail(`longer than ${MAX_KEY_LENGTH} characters`);
  if (key.includes('\0')) return fail('contains a NUL character');
  if (key.includes('\\')) return fail('contains a backslash');
  if (key.startsWith('/')) return fail('is an absolute path');
  if (/^[A-Za-z]:/.test(key)) return fail('starts with a drive letter');
  for (const segment of key.split('/')) {
    if (segment === '') return fail('has an empty segment ("//" or a trailing "/")');
    if (segment === '.' || segment === '..') return fail(`has a "${segment}" segment`);
  }
}

/**
 * The file of an entry, relative to the cache's `data/` directory: `<h2>/<h32>-<basename>`, where h
 * is the SHA-256 of the key. Hashing keeps keys `a` and `a/b` from colliding as file and directory
 * and means no directory is ever created from user input; the basename (sanitized) is kept so that
 * tools that sniff file types by extension (ffmpeg, sharp) still work on `handle.path`.
 */
export function entryFile(key: string): string {
  const hash = createHash('sha256').update(key).digest('hex').slice(0, 32);
  const last = key.slice(key.lastIndexOf('/') + 1);
  let base = last.replace(/[^A-Za-z0-9._-]/g, '_');
  if (base.length > 80) {
    const dot = base.lastIndexOf('.');
    const ext = dot > 0 && base.length - dot <= 16 ? base.slice(dot) : '';
    base = base.slice(0, 80 - ext.length) + ext;
  }
  return `${hash.slice(0, 2)}/${hash}-${base}`;
}
