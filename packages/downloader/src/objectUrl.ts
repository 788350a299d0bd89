import { StreamsError } from '@streams/core';

/** A parsed object URL: `scheme` is lower case without the colon; plain paths are `file`. */
export interface ObjectUrl {
  scheme: string;
  url: URL;
}

const SCHEME = /^([a-z][a-z0-9+.-]*):/i;

/** Parses `url`; plain paths (absolute or relative) become `file:` URLs. */
export function parseObjectUrl(url: string): ObjectUrl {
  if (typeof url !== 'string' || url.length === 0)
    throw invalidUrl(String(url), 'it is empty', 'pass a path or a URL such as s3://bucket/key');
  const match = SCHEME.exec(url);
  // One letter before the colon is a Windows drive (C:\data), not a scheme.
  if (!match || match[1]!.length === 1)
    return { scheme: 'file', url: new URL(`file://${toAbsolute(url)}`) };
  const scheme = match[1]!.toLowerCase();
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw invalidUrl(url, 'it is not a valid URL', 'check for spaces or stray characters', cause);
  }
  if (
    (scheme === 'http' || scheme === 'https' || scheme === 's3' || scheme === 'gs') &&
    !parsed.hostname
  )
    throw invalidUrl(
      url,
      `it has no ${scheme === 's3' || scheme === 'gs' ? 'bucket' : 'host'}`,
      scheme === 's3' || scheme === 'gs'
        ? `write ${scheme}://bucket/key`
        : `write ${scheme}://host/path`,
    );
  return { scheme, url: parsed };
}

function invalidUrl(url: string, why: string, fix: string, cause?: unknown): StreamsError {
  return new StreamsError(
    'STREAMS_INVALID_URL',
    `[streams/downloader] cannot parse "${url}": ${why}`,
    {
      url,
      fix,
      cause,
    },
  );
}

function toAbsolute(path: string): string {
  const abs = path.startsWith('/') ? path : `${process.cwd()}/${path}`;
  return abs
    .split('/')
    .map((part) => encodeURIComponent(part))
    .join('/');
}
