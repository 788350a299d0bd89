import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { StreamsError } from '@streams/core';

// Paths and URLs as the formats name them: local paths and `file:` URLs are local, every other
// scheme is remote; relative names resolve against the directory of the index that names them.

const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;

/** True when `url` names a remote object (not a local path and not `file:`). */
export function isRemoteUrl(url: string): boolean {
  const m = SCHEME.exec(url);
  return m !== null && m[1]?.toLowerCase() !== 'file';
}

/** Local filesystem path of a path or `file:` URL. */
export function toLocalPath(url: string): string {
  if (!url.startsWith('file:')) return resolve(url);
  try {
    return fileURLToPath(parseUrl(url));
  } catch (cause) {
    if (cause instanceof StreamsError) throw cause;
    throw new StreamsError(
      'STREAMS_INVALID_URL',
      `[streams/index] ${url} is not a local file URL`,
      {
        cause,
        fix: 'write file: URLs as file:///absolute/path (no host)',
      },
    );
  }
}

/** Resolves `name` (relative path or absolute URL) against the directory `base`. */
export function joinUrl(base: string, name: string): string {
  if (SCHEME.test(name) || name.startsWith('file:')) return name;
  if (isRemoteUrl(base) || base.startsWith('file:')) {
    const dir = parseUrl(base.endsWith('/') ? base : `${base}/`);
    try {
      return new URL(name, dir).toString();
    } catch (cause) {
      throw new StreamsError(
        'STREAMS_INVALID_URL',
        `[streams/index] cannot resolve ${name} against ${base}`,
        {
          cause,
          fix: 'check the relative path',
        },
      );
    }
  }
  return isAbsolute(name) ? name : join(base, name);
}

/** Parses an absolute URL; an unparsable one (a port past 65535, a bad host) is `STREAMS_INVALID_URL`. */
export function parseUrl(url: string): URL {
  try {
    return new URL(url);
  } catch (cause) {
    throw new StreamsError('STREAMS_INVALID_URL', `[streams/index] cannot parse the URL ${url}`, {
      cause,
      fix: 'check the scheme, host and port (at most 65535) of the URL',
    });
  }
}

/** A local path or `file:` URL as a normalized `file:` URL, for prefix comparisons. */
function fileHref(pathOrUrl: string): string {
  return pathOrUrl.startsWith('file:')
    ? parseUrl(pathOrUrl).href
    : pathToFileURL(resolve(pathOrUrl)).href + (pathOrUrl.endsWith('/') ? '/' : '');
}

/**
 * Throws `STREAMS_UNSAFE_PATH` when `url`, named inside the index or list file `namedBy`, is a
 * local path or `file:` URL while `namedBy` is remote, unless it starts with one of the `allow`
 * prefixes: a remote index may name remote URLs (of any host) but cannot make a reader open local
 * files. Local indexes may name anything.
 */
export function checkNamedUrl(
  url: string,
  namedBy: string,
  allow: readonly string[] = [],
  where = '',
): void {
  if (!isRemoteUrl(namedBy) || isRemoteUrl(url)) return;
  const href = fileHref(url);
  if (allow.some((prefix) => !isRemoteUrl(prefix) && href.startsWith(fileHref(prefix)))) return;
  throw new StreamsError(
    'STREAMS_UNSAFE_PATH',
    `[streams/index] ${where}names the local file ${url}, but the index is remote: it may name only remote URLs`,
    {
      url: namedBy,
      fix: 'if the index is trusted, pass allowUrls (streams: --allow-urls) with the local prefixes it may name, e.g. file:///data/images/',
    },
  );
}

/**
 * Why `name` could leave the directory it is joined to (by {@link joinUrl}, as a local path or a
 * relative URL), or undefined when it cannot: a scheme or drive letter, a leading slash or any
 * backslash, a `..` segment (also percent-encoded), or control characters (URL parsers drop them,
 * so `a/.\t./b` reads as `a/../b`).
 */
export function unsafeRelativePath(name: string): string | undefined {
  if (name === '') return 'is empty';
  if (/[\x00-\x1f\x7f]/.test(name) || name.trim() !== name)
    return 'has control characters or surrounding spaces';
  if (name.startsWith('/') || name.includes('\\')) return 'is absolute or has a backslash';
  if ((name.split('/')[0] ?? '').includes(':')) return 'names a scheme or drive';
  for (const segment of name.split('/')) {
    let decoded = segment;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      // not percent-encoded: the segment as written
    }
    if (segment === '..' || decoded === '..') return 'goes up with ".."';
  }
  return undefined;
}

/** The directory part of a path or URL. */
export function dirnameUrl(url: string): string {
  if (isRemoteUrl(url) || url.startsWith('file:')) {
    const u = parseUrl(url);
    u.pathname = u.pathname.replace(/[^/]*$/, '');
    u.search = '';
    return u.toString().replace(/\/$/, '');
  }
  return join(resolve(url), '..');
}

/** The last path segment of a path or URL. */
export function basenameUrl(url: string): string {
  const path = isRemoteUrl(url) ? parseUrl(url).pathname : url;
  return path.replace(/\/+$/, '').split('/').pop() ?? '';
}

/** A `file:` URL for a local path (handy for tests and messages). */
export function fileUrl(path: string): string {
  return pathToFileURL(path).toString();
}
