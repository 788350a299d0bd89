// The errors a transfer attempt ends with: each retryable, with the URL and one fix.
import { type Driver, TransferError } from './driver.js';

export function objectChanged(
  driver: Driver,
  url: string,
  was: string | undefined,
  now: string | undefined,
): TransferError {
  return new TransferError(
    'STREAMS_NETWORK',
    `[streams/downloader] [${driver.name}] GET ${url}: the object changed while downloading (ETag ${was} -> ${now}); starting over`,
    { url, retryable: true },
  );
}

export function sizeMismatch(
  driver: Driver,
  url: string,
  want: number,
  got: number,
  qualifier = '',
): TransferError {
  return new TransferError(
    'STREAMS_SIZE_MISMATCH',
    `[streams/downloader] [${driver.name}] GET ${url}: expected ${want} bytes, got ${qualifier}${got}`,
    {
      url,
      retryable: true,
      fix: 'the object changed or the transfer was cut; check the index size or the source',
    },
  );
}

/** The retryable error of a body that received no bytes for `stallMs`. */
export function stalled(stallMs: number): TransferError {
  return new TransferError('STREAMS_STALLED', `no bytes for ${stallMs} ms`, { retryable: true });
}

export function hashMismatch(
  driver: Driver,
  url: string,
  expected: { algorithm: string; digest: string },
  digest: string,
): TransferError {
  return new TransferError(
    'STREAMS_HASH_MISMATCH',
    `[streams/downloader] [${driver.name}] GET ${url}: ${expected.algorithm} digest ${digest} does not match the expected ${expected.digest}`,
    {
      url,
      retryable: true,
      fix: 'the object changed or is corrupt; re-index it or check its source',
    },
  );
}
