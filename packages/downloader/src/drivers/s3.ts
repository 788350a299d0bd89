import { Readable } from 'node:stream';
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { importOptional, isAbortError, signalReason, throwIfAborted } from '@streams/core';
import {
  checkRange,
  cleanEtag,
  type Driver,
  emptyBody,
  existsByStat,
  type ListEntry,
  type ListPage,
  listAllPages,
  makeBody,
  networkError,
  type ObjectBody,
  type ObjectStat,
  type OperationOptions,
  parseRetryAfter,
  shortRangeError,
  sliceSource,
  statusError,
  TransferError,
} from '../driver.js';
import { bucketUrl, parseBucketUrl } from './bucketUrl.js';
import { DirectClient, type DirectEndpoint, directEndpoint, directTarget } from './s3Direct.js';

/** Driver name used in messages. */
export const NAME = 's3';

/** Options of {@link s3Driver}. Unset fields come from the AWS environment, as the AWS CLI reads them. */
export interface S3DriverOptions {
  /** Region (default: `AWS_REGION`, `AWS_DEFAULT_REGION`, the AWS config file, else `us-east-1`). */
  region?: string;
  /** Custom endpoint for S3-compatible stores (MinIO, R2, s3rver); default `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL`. */
  endpoint?: string;
  /** Path-style URLs (`host/bucket/key`); default true when an endpoint is set. */
  forcePathStyle?: boolean;
  /** Explicit credentials; default: the SDK's standard provider chain (env, profile, SSO, IMDS, ECS, web identity). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Send `x-amz-request-payer: requester` (requester-pays buckets). */
  requesterPays?: boolean;
  /** SDK attempts per request (default 1: the fetch engine does the retrying). */
  maxAttempts?: number;
  /** Objects larger than this are uploaded in parts (default 16 MiB). */
  multipartThreshold?: number;
  /** Part size of multipart uploads (default 8 MiB, at least 5 MiB on AWS). */
  partSize?: number;
  /** Parts uploaded at once (default 4). */
  queueSize?: number;
  /** Keys per ListObjectsV2 page (default 1000). */
  listPageSize?: number;
  /**
   * SDK checksum behaviour; default `WHEN_REQUIRED` for custom endpoints (many S3-compatible
   * stores reject the flexible-checksum trailers) and the SDK default on AWS.
   */
  checksums?: 'WHEN_SUPPORTED' | 'WHEN_REQUIRED';
  /** Extra client configuration passed to `new S3Client()`. */
  clientConfig?: S3ClientConfig;
  /**
   * Send GETs (`get`, `getRange`: a dataset's hot path) as SigV4-signed requests on the driver's
   * own keep-alive agent instead of through the SDK's middleware stack: the same requests,
   * credentials (the SDK's provider chain) and errors for about a third of the client CPU. Default:
   * on when the driver can address the bucket itself (a custom endpoint, or a region of the
   * standard AWS partitions) and no `clientConfig` is given; FIPS and dual-stack endpoints, China
   * and ISO regions, S3 Express directory buckets and `clientConfig` go through the SDK. `true`
   * keeps it on despite a `clientConfig`; `false` sends every GET through the SDK.
   */
  direct?: boolean;
}

type S3Module = typeof import('@aws-sdk/client-s3');

interface Loaded {
  sdk: S3Module;
  client: S3Client;
  /** The direct GET path, when the configuration allows it (see `S3DriverOptions.direct`). */
  direct: { endpoint: DirectEndpoint; client: DirectClient } | undefined;
}

/** The fields of a GetObject answer that `read` uses, from either path. */
interface GetOutput {
  Body?: unknown;
  ContentLength?: number | undefined;
  ContentRange?: string | undefined;
  ETag?: string | undefined;
}

/** Amazon S3 and S3-compatible stores through `@aws-sdk/client-s3` (loaded on first use). */
export function s3Driver(options: S3DriverOptions = {}): Driver {
  let loaded: Promise<Loaded> | undefined;
  const payer = options.requesterPays ? ({ RequestPayer: 'requester' } as const) : {};
  const pageSize = options.listPageSize ?? 1000;

  function load(): Promise<Loaded> {
    loaded ??= (async () => {
      const sdk = await importOptional('@aws-sdk/client-s3', () => import('@aws-sdk/client-s3'), {
        by: '@streams/downloader',
        feature: 's3:// URLs',
      });
      const endpoint =
        options.endpoint ?? process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
      const checksums = options.checksums ?? (endpoint ? 'WHEN_REQUIRED' : undefined);
      const region =
        options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
      const config: S3ClientConfig = {
        region,
        maxAttempts: options.maxAttempts ?? 1,
        ...(endpoint ? { endpoint, forcePathStyle: options.forcePathStyle ?? true } : {}),
        ...(options.forcePathStyle !== undefined ? { forcePathStyle: options.forcePathStyle } : {}),
        ...(options.credentials ? { credentials: options.credentials } : {}),
        ...(checksums
          ? { requestChecksumCalculation: checksums, responseChecksumValidation: checksums }
          : {}),
        ...options.clientConfig,
      };
      const client = new sdk.S3Client(config);
      const ep = directEndpoint({ ...options, endpoint, region });
      const explicit = options.credentials;
      const direct = ep && {
        endpoint: ep,
        client: new DirectClient(
          region,
          explicit ? async () => explicit : () => client.config.credentials(),
          options.requesterPays ? { 'x-amz-request-payer': 'requester' } : {},
        ),
      };
      return { sdk, client, direct };
    })();
    loaded.catch(() => {
      loaded = undefined;
    });
    return loaded;
  }

  async function send<T>(
    op: string,
    url: string,
    signal: AbortSignal | undefined,
    run: (m: Loaded) => Promise<T>,
  ): Promise<T> {
    throwIfAborted(signal);
    const m = await load();
    try {
      return await run(m);
    } catch (err) {
      if (signal?.aborted) throw signalReason(signal);
      throw s3Error(op, url, err);
    }
  }

  async function stat(url: string, o: OperationOptions = {}): Promise<ObjectStat> {
    const { bucket, key } = parseS3Url(url);
    const out = await send('HEAD', url, o.signal, ({ sdk, client }) =>
      client.send(new sdk.HeadObjectCommand({ Bucket: bucket, Key: key, ...payer }), {
        abortSignal: o.signal,
      }),
    );
    return {
      size: out.ContentLength ?? 0,
      etag: cleanEtag(out.ETag),
      generation: out.VersionId,
      lastModified: out.LastModified,
    };
  }

  async function read(
    url: string,
    range: { offset: number; length: number } | undefined,
    o: OperationOptions,
  ): Promise<ObjectBody> {
    const { bucket, key } = parseS3Url(url);
    const Range = range ? `bytes=${range.offset}-${range.offset + range.length - 1}` : undefined;
    const out = await send(
      'GET',
      url,
      o.signal,
      async ({ sdk, client, direct }): Promise<GetOutput> => {
        const target = direct && directTarget(direct.endpoint, bucket, key);
        if (!direct || !target)
          return client.send(
            new sdk.GetObjectCommand({ Bucket: bucket, Key: key, Range, ...payer }),
            {
              abortSignal: o.signal,
            },
          );
        const r = await direct.client.get(target, Range, o.signal);
        const length = r.headers['content-length'];
        return {
          Body: r.body,
          ContentLength: length === undefined ? undefined : Number(length),
          ContentRange: r.headers['content-range'],
          ETag: r.headers.etag,
        };
      },
    );
    const body = out.Body as (Readable & AsyncIterable<Uint8Array>) | undefined;
    if (!body) return emptyBody();
    const onAbort = () => body.destroy();
    o.signal?.addEventListener('abort', onAbort, { once: true });
    let source: AsyncIterable<Uint8Array> = body;
    let size = out.ContentLength;
    // Some S3-compatible servers answer a range with the whole object (s3rver does for bytes=0-0).
    if (range && size !== undefined && size > range.length) {
      const first = Number(/^bytes (\d+)-/.exec(out.ContentRange ?? '')?.[1] ?? 0);
      if (first > range.offset || first + size < range.offset + range.length) {
        body.destroy();
        throw statusError(NAME, 'GET', url, 416);
      }
      source = sliceSource(body, range.offset - first, range.length);
      size = range.length;
    }
    async function* guard(): AsyncGenerator<Uint8Array> {
      try {
        for await (const chunk of source) yield chunk;
      } catch (err) {
        if (o.signal?.aborted) throw signalReason(o.signal);
        if (isAbortError(err)) throw err;
        throw networkError(NAME, 'GET', url, err);
      } finally {
        o.signal?.removeEventListener('abort', onAbort);
        if (source !== body) body?.destroy();
      }
    }
    // Unsliced bodies also offer the raw stream to the engine's event-driven pump, which never
    // runs guard()'s finally: unlink the abort listener when the stream closes, or the parts of
    // a large object pile up listeners on their shared attempt signal.
    if (source === body) body.once('close', () => o.signal?.removeEventListener('abort', onAbort));
    return makeBody(
      guard(),
      size,
      () => void body.destroy(),
      cleanEtag(out.ETag),
      source === body ? body : undefined,
    );
  }

  async function listPage(
    prefix: string,
    token: string | undefined,
    o: OperationOptions = {},
  ): Promise<ListPage> {
    const { bucket, key } = parseS3Url(prefix, true);
    const page = await send('LIST', prefix, o.signal, ({ sdk, client }) =>
      client.send(
        new sdk.ListObjectsV2Command({
          Bucket: bucket,
          Prefix: key,
          ContinuationToken: token,
          MaxKeys: pageSize,
          ...payer,
        }),
        { abortSignal: o.signal },
      ),
    );
    const entries: ListEntry[] = [];
    for (const c of page.Contents ?? []) {
      if (c.Key === undefined) continue;
      entries.push({
        url: s3Url(bucket, c.Key),
        key: c.Key,
        size: c.Size ?? 0,
        etag: cleanEtag(c.ETag),
        lastModified: c.LastModified,
      });
    }
    // A truncated page without a token would silently drop the rest: refuse it.
    if (page.IsTruncated && !page.NextContinuationToken)
      throw new TransferError(
        'STREAMS_NETWORK',
        `[streams/downloader] [s3] LIST ${prefix}: truncated page without a continuation token`,
        { url: prefix },
      );
    return { entries, next: page.IsTruncated ? page.NextContinuationToken : undefined };
  }

  return {
    name: NAME,
    stat,
    // A missing bucket is an error, not a missing object.
    exists: (url, o = {}) =>
      existsByStat(
        () => stat(url, o),
        (err) => !/NoSuchBucket/.test(err.message),
      ),
    get: (url, o = {}) => read(url, undefined, o),
    async getRange(url, offset, length, o = {}) {
      checkRange(NAME, url, offset, length);
      if (length === 0) {
        await stat(url, o);
        return emptyBody();
      }
      const body = await read(url, { offset, length }, o);
      if (body.size !== undefined && body.size !== length) {
        await body.cancel();
        throw shortRangeError(NAME, url, offset, length, body.size);
      }
      return body;
    },
    list: (prefix, o = {}) => listAllPages(listPage, prefix, o),
    listPage,
    async put(url, body, o = {}) {
      const { bucket, key } = parseS3Url(url);
      const threshold = options.multipartThreshold ?? 16 << 20;
      const small = body instanceof Uint8Array && body.byteLength <= threshold;
      await send('PUT', url, o.signal, async ({ sdk, client }) => {
        if (small) {
          await client.send(
            new sdk.PutObjectCommand({
              Bucket: bucket,
              Key: key,
              Body: body,
              ContentType: o.contentType,
              ...payer,
            }),
            { abortSignal: o.signal },
          );
          return;
        }
        const { Upload } = await importOptional(
          '@aws-sdk/lib-storage',
          () => import('@aws-sdk/lib-storage'),
          { by: '@streams/downloader', feature: 'multipart uploads to s3:// URLs' },
        );
        const upload = new Upload({
          client,
          partSize: Math.max(options.partSize ?? 8 << 20, 5 << 20),
          queueSize: options.queueSize ?? 4,
          leavePartsOnError: false,
          params: {
            Bucket: bucket,
            Key: key,
            Body: body instanceof Uint8Array ? body : Readable.from(body),
            ContentType: o.contentType,
            ...payer,
          },
        });
        const onAbort = () => void upload.abort();
        o.signal?.addEventListener('abort', onAbort, { once: true });
        try {
          await upload.done();
        } finally {
          o.signal?.removeEventListener('abort', onAbort);
        }
      });
      return stat(url, o);
    },
    async dispose() {
      const m = await loaded?.catch(() => undefined);
      m?.client.destroy();
      m?.direct?.client.destroy();
      loaded = undefined;
    },
  };
}

/** Splits `s3://bucket/key` (the key may be empty for listings). */
export function parseS3Url(url: string, allowEmptyKey = false): { bucket: string; key: string } {
  return parseBucketUrl(url, NAME, 'key', allowEmptyKey);
}

function s3Url(bucket: string, key: string): string {
  return bucketUrl(NAME, bucket, key);
}

function s3Error(op: string, url: string, err: unknown): unknown {
  if (err instanceof TransferError || isAbortError(err)) return err;
  const e = err as {
    name?: string;
    message?: string;
    $metadata?: { httpStatusCode?: number };
    $response?: { headers?: Record<string, string> };
  };
  const name = e.name ?? '';
  const status = e.$metadata?.httpStatusCode;
  const retryAfter = e.$response?.headers?.['retry-after'];
  const bucketRegion = e.$response?.headers?.['x-amz-bucket-region'];
  // S3 names the bucket's region when a request went to the wrong one: a 301 redirect, or a 400
  // for a signature scoped to another region.
  if (
    bucketRegion &&
    (status === 301 ||
      ['AuthorizationHeaderMalformed', 'IllegalLocationConstraintException'].includes(name))
  )
    return new TransferError(
      'STREAMS_INVALID_CONFIG',
      `[streams/downloader] [s3] ${op} ${url} failed: the bucket is in region ${bucketRegion} (${name || `HTTP ${status}`})`,
      { url, status, cause: err, fix: `set region: '${bucketRegion}' in s3Driver() or AWS_REGION` },
    );
  if (name === 'NoSuchBucket')
    return new TransferError(
      'STREAMS_NOT_FOUND',
      `[streams/downloader] [s3] ${op} ${url} failed: NoSuchBucket (the bucket does not exist)`,
      {
        url,
        status: 404,
        cause: err,
        fix: 'check the bucket name, the region and the endpoint',
      },
    );
  if (
    [
      'SlowDown',
      'Throttling',
      'ThrottlingException',
      'RequestLimitExceeded',
      'TooManyRequestsException',
    ].includes(name)
  )
    return new TransferError(
      'STREAMS_NETWORK',
      `[streams/downloader] [s3] ${op} ${url} failed: ${name} (HTTP ${status ?? 503})`,
      {
        url,
        status: status ?? 503,
        cause: err,
        throttled: true,
        retryAfterMs: parseRetryAfter(retryAfter),
      },
    );
  if (['NoSuchKey', 'NotFound'].includes(name) || status === 404)
    return statusError(NAME, op, url, 404, { detail: name, cause: err });
  if (
    [
      'AccessDenied',
      'InvalidAccessKeyId',
      'SignatureDoesNotMatch',
      'Forbidden',
      'InvalidToken',
      'ExpiredToken',
    ].includes(name) ||
    status === 403 ||
    status === 401
  )
    return statusError(NAME, op, url, status ?? 403, { detail: name, cause: err });
  if (name === 'CredentialsProviderError')
    return new TransferError(
      'STREAMS_FORBIDDEN',
      `[streams/downloader] [s3] ${op} ${url} failed: no AWS credentials found`,
      {
        url,
        cause: err,
        fix: 'set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or pass credentials to s3Driver()',
      },
    );
  if (status !== undefined && status >= 300)
    return statusError(NAME, op, url, status, { detail: name, retryAfter, cause: err });
  // No HTTP status: the request never got an answer (reset, refused, timeout, bad XML from a cut body).
  return networkError(NAME, op, url, err);
}
