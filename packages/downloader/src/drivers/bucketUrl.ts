import { TransferError } from '../driver.js';
import { parseObjectUrl } from '../objectUrl.js';

/**
 * Splits `<scheme>://bucket/key` for the bucket stores (s3, gs); `driver` and `keyNoun` word the
 * error for a URL without a key. The key may be empty when `allowEmptyKey` (listings).
 */
export function parseBucketUrl(
  url: string,
  driver: string,
  keyNoun: string,
  allowEmptyKey: boolean,
): { bucket: string; key: string } {
  const parsed = parseObjectUrl(url).url;
  const key = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (!allowEmptyKey && key === '')
    throw new TransferError(
      'STREAMS_INVALID_URL',
      `[streams/downloader] [${driver}] ${url} names a bucket but no ${keyNoun}`,
      {
        url,
        fix: `write ${driver}://bucket/path/to/object`,
      },
    );
  return { bucket: parsed.hostname, key };
}

/** `<scheme>://bucket/key` with each key segment percent-encoded (the inverse of {@link parseBucketUrl}). */
export function bucketUrl(scheme: string, bucket: string, key: string): string {
  return `${scheme}://${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
}
