import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Storage, StorageOptions } from '@google-cloud/storage';
import {
  importOptional,
  isAbortError,
  raceSignal,
  signalReason,
  throwIfAborted,
} from '@streams/core';
import {
  checkRange,
  cleanEtag,
  type Driver,
  describeCause,
  emptyBody,
  type ListEntry,
  type ListPage,
  listAllPages,
  makeBody,
  networkError,
  type ObjectBody,
  type ObjectStat,
  type OperationOptions,
  shortRangeError,
  statusError,
  TransferError,
} from '../driver.js';
import { bucketUrl, parseBucketUrl } from './bucketUrl.js';

/** Driver name used in messages. */
export const NAME = 'gs';

/** Options of {@link gcsDriver}. Unset fields follow Application Default Credentials. */
export interface GcsDriverOptions {
  /** Project id (default: from the credentials or `GOOGLE_CLOUD_PROJECT`). */
  projectId?: string;
  /** Service-account key file (default: ADC: `GOOGLE_APPLICATION_CREDENTIALS`, gcloud, metadata server). */
  keyFilename?: string;
  /** Inline service-account credentials. */
  credentials?: { client_email: string; private_key: string };
  /** Custom JSON API endpoint, e.g. an emulator's `http://127.0.0.1:4443` (default: `STORAGE_EMULATOR_HOST` or Google's). */
  apiEndpoint?: string;
  /** Send credentials to a custom endpoint too (default false, as the SDK does). */
  useAuthWithCustomEndpoint?: boolean;
  /**
   * The universe domain of a Google Cloud outside googleapis.com (a sovereign or partner cloud);
   * there the auth library signs its own service-account JWTs instead of exchanging them for
   * OAuth tokens.
   */
  universeDomain?: string;
  /** Project billed for requester-pays buckets. */
  userProject?: string;
  /** Uploads larger than this use a resumable session (default 8 MiB). */
  resumableThreshold?: number;
  /** Objects per list page (default 1000). */
  listPageSize?: number;
  /** SDK retries (default 0: the fetch engine does the retrying). */
  maxRetries?: number;
  /** Extra options passed to `new Storage()`. */
  storageOptions?: StorageOptions;
}

interface RawResponse {
  statusCode?: number;
  headers?: Record<string, string | string[] | undefined>;
}

/** Google Cloud Storage through `@google-cloud/storage` v7 (loaded on first use). */
export function gcsDriver(options: GcsDriverOptions = {}): Driver {
  let storage: Promise<Storage> | undefined;
  const user = options.userProject ? { userProject: options.userProject } : {};

  function load(): Promise<Storage> {
    storage ??= (async () => {
      const { Storage } = await importOptional(
        '@google-cloud/storage',
        () => import('@google-cloud/storage'),
        { by: '@streams/downloader', feature: 'gs:// URLs' },
      );
      return new Storage({
        ...(options.projectId ? { projectId: options.projectId } : {}),
        ...(options.keyFilename ? { keyFilename: options.keyFilename } : {}),
        ...(options.credentials ? { credentials: options.credentials } : {}),
        ...(options.apiEndpoint ? { apiEndpoint: options.apiEndpoint } : {}),
        ...(options.useAuthWithCustomEndpoint ? { useAuthWithCustomEndpoint: true } : {}),
        ...(options.universeDomain ? { universeDomain: options.universeDomain } : {}),
        retryOptions: {
          maxRetries: options.maxRetries ?? 0,
          autoRetry: (options.maxRetries ?? 0) > 0,
        },
        ...options.storageOptions,
      });
    })();
    storage.catch(() => {
      storage = undefined;
    });
    return storage;
  }

  async function file(url: string) {
    const { bucket, key } = parseGsUrl(url);
    return (await load()).bucket(bucket).file(key);
  }

  async function call<T>(
    op: string,
    url: string,
    signal: AbortSignal | undefined,
    run: () => Promise<T>,
  ): Promise<T> {
    throwIfAborted(signal);
    try {
      // The SDK's metadata calls take no signal: abandon them on abort.
      return await raceSignal(run(), signal);
    } catch (err) {
      if (signal?.aborted) throw signalReason(signal);
      throw gcsError(op, url, err);
    }
  }

  async function stat(url: string, o: OperationOptions = {}): Promise<ObjectStat> {
    const f = await file(url);
    const [md] = await call('HEAD', url, o.signal, () => f.getMetadata(user));
    return {
      size: Number(md.size ?? 0),
      etag: cleanEtag(md.etag),
      generation: md.generation === undefined ? undefined : String(md.generation),
      lastModified: md.updated ? new Date(md.updated) : undefined,
    };
  }

  async function read(
    url: string,
    range: { start: number; end: number } | undefined,
    o: OperationOptions,
  ): Promise<ObjectBody> {
    throwIfAborted(o.signal);
    const f = await file(url);
    const stream: Readable = f.createReadStream({
      validation: false,
      decompress: false,
      ...user,
      ...(range ?? {}),
    });
    const onAbort = () => stream.destroy();
    o.signal?.addEventListener('abort', onAbort, { once: true });
    const iterator: AsyncIterator<Uint8Array> = stream[Symbol.asyncIterator]();
    // The request starts on the first read; the response event carries status and length.
    const first = iterator.next();
    first.catch(() => {});
    let res: RawResponse;
    try {
      res = await new Promise<RawResponse>((resolve, reject) => {
        stream.once('response', resolve);
        first.then(() => reject(new Error('no response event')), reject);
      });
    } catch (err) {
      o.signal?.removeEventListener('abort', onAbort);
      if (o.signal?.aborted) throw signalReason(o.signal);
      throw gcsError('GET', url, err);
    }
    const status = res.statusCode ?? 200;
    if (status >= 300) {
      stream.destroy();
      o.signal?.removeEventListener('abort', onAbort);
      const retryAfter = res.headers?.['retry-after'];
      throw statusError(NAME, 'GET', url, status, {
        retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
      });
    }
    const len = Number(res.headers?.['content-length']);
    const etag = res.headers?.etag;
    async function* guard(): AsyncGenerator<Uint8Array> {
      try {
        let next = await first;
        while (!next.done) {
          yield next.value;
          next = await iterator.next();
        }
      } catch (err) {
        if (o.signal?.aborted) throw signalReason(o.signal);
        if (isAbortError(err)) throw err;
        throw gcsError('GET', url, err);
      } finally {
        o.signal?.removeEventListener('abort', onAbort);
      }
    }
    // Destroying a short response can hand a dying keep-alive socket to the next request
    // ("socket hang up"): small bodies are drained instead.
    const cancel = () => {
      if (Number.isFinite(len) && len <= 1 << 20) stream.resume();
      else stream.destroy();
    };
    return makeBody(
      guard(),
      Number.isFinite(len) ? len : undefined,
      cancel,
      cleanEtag(Array.isArray(etag) ? etag[0] : etag),
    );
  }

  async function listPage(
    prefix: string,
    token: string | undefined,
    o: OperationOptions = {},
  ): Promise<ListPage> {
    const { bucket, key } = parseGsUrl(prefix, true);
    const b = (await load()).bucket(bucket);
    const [files, next] = await call('LIST', prefix, o.signal, () =>
      b.getFiles({
        prefix: key,
        autoPaginate: false,
        maxResults: options.listPageSize ?? 1000,
        pageToken: token,
        ...user,
      }),
    );
    const entries: ListEntry[] = files.map((f) => {
      const md = f.metadata;
      return {
        url: gsUrl(bucket, f.name),
        key: f.name,
        size: Number(md.size ?? 0),
        etag: cleanEtag(md.etag),
        generation: md.generation === undefined ? undefined : String(md.generation),
        lastModified: md.updated ? new Date(md.updated) : undefined,
      };
    });
    return { entries, next: (next as { pageToken?: string } | null | undefined)?.pageToken };
  }

  return {
    name: NAME,
    stat,
    async exists(url, o = {}) {
      const f = await file(url);
      const [yes] = await call('HEAD', url, o.signal, () => f.exists(user));
      return yes;
    },
    get: (url, o = {}) => read(url, undefined, o),
    async getRange(url, offset, length, o = {}) {
      checkRange(NAME, url, offset, length);
      if (length === 0) {
        await stat(url, o);
        return emptyBody();
      }
      const body = await read(url, { start: offset, end: offset + length - 1 }, o);
      if (body.size !== undefined && body.size !== length) {
        await body.cancel();
        throw shortRangeError(NAME, url, offset, length, body.size);
      }
      return body;
    },
    list: (prefix, o = {}) => listAllPages(listPage, prefix, o),
    listPage,
    async put(url, body, o = {}) {
      const f = await file(url);
      const size = o.size ?? (body instanceof Uint8Array ? body.byteLength : undefined);
      const resumable = size === undefined || size > (options.resumableThreshold ?? 8 << 20);
      await call('PUT', url, o.signal, async () => {
        const sink = f.createWriteStream({
          resumable,
          validation: false,
          ...user,
          metadata: { contentType: o.contentType ?? 'application/octet-stream' },
        });
        await pipeline(body instanceof Uint8Array ? [body] : body, sink, { signal: o.signal });
      });
      return stat(url, o);
    },
    async dispose() {
      storage = undefined;
    },
  };
}

/** Splits `gs://bucket/key` (the key may be empty for listings). */
export function parseGsUrl(url: string, allowEmptyKey = false): { bucket: string; key: string } {
  return parseBucketUrl(url, NAME, 'object', allowEmptyKey);
}

function gsUrl(bucket: string, key: string): string {
  return bucketUrl(NAME, bucket, key);
}

function gcsError(op: string, url: string, err: unknown): unknown {
  if (err instanceof TransferError || isAbortError(err)) return err;
  const e = err as {
    code?: unknown;
    message?: string;
    response?: { headers?: Record<string, string> };
  };
  const status = typeof e.code === 'number' ? e.code : undefined;
  if (status !== undefined) {
    const detail = (e.message ?? '').slice(0, 200);
    if (status === 404 && /bucket does not exist/i.test(detail))
      return new TransferError(
        'STREAMS_NOT_FOUND',
        `[streams/downloader] [gs] ${op} ${url} failed: the bucket does not exist`,
        {
          url,
          status,
          cause: err,
          fix: 'check the bucket name and project',
        },
      );
    return statusError(NAME, op, url, status, {
      detail,
      retryAfter: e.response?.headers?.['retry-after'],
      cause: err,
    });
  }
  // Credentials that cannot be loaded or signed with fail every attempt alike: no retries.
  const text = `${(e as { code?: unknown }).code ?? ''} ${e.message ?? ''}`;
  if (
    /ENOENT|ERR_OSSL|invalid_grant|unauthorized_client|default credentials|private key|PEM/i.test(
      text,
    )
  )
    return new TransferError(
      'STREAMS_FORBIDDEN',
      `[streams/downloader] [gs] ${op} ${url} failed: the Google credentials could not be used (${describeCause(err)})`,
      {
        url,
        cause: err,
        fix: 'check GOOGLE_APPLICATION_CREDENTIALS, keyFilename or credentials (a service-account JSON key), or run gcloud auth application-default login',
      },
    );
  return networkError(NAME, op, url, err);
}
