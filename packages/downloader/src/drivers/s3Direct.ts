import { createHash, createHmac } from 'node:crypto';
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { readText } from '../driver.js';

/**
 * The S3 driver's direct GET path. A `GetObjectCommand` spends most of its client CPU in the
 * SDK's middleware stack (endpoint rules, schema serde, signing abstractions): about 0.5 ms per
 * request on this machine's cores, which caps small-object throughput when the client is
 * CPU-bound. GETs are the hot path of a dataset, so the driver signs them here (AWS Signature
 * Version 4 with `node:crypto`, signing keys cached per day) and sends them on its own keep-alive
 * agent, with credentials still from the SDK's provider chain. Every other operation, and any
 * configuration this file cannot address by itself, goes through the SDK.
 */

/** Credentials as the SDK's providers return them. */
export interface SigningCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
}

/** Where direct requests go, resolved once per driver from its options. */
export interface DirectEndpoint {
  protocol: 'http:' | 'https:';
  /** Host name as `URL.hostname` gives it (IPv6 literals in brackets), without the bucket (virtual-hosted requests prepend it). */
  hostname: string;
  /** Port when not the protocol's default. */
  port: number | undefined;
  /** Path prefix of a custom endpoint (no trailing slash). */
  basePath: string;
  /** true: `host/bucket/key`; false: `bucket.host/key`; undefined: per bucket (AWS: virtual-hosted when the name allows it). */
  pathStyle: boolean | undefined;
}

/** The options the decision reads (a subset of `S3DriverOptions`). */
export interface DirectOptions {
  direct?: boolean | undefined;
  endpoint?: string | undefined;
  region: string;
  forcePathStyle?: boolean | undefined;
  clientConfig?: object | undefined;
}

/** Regions of the `aws` and `aws-us-gov` partitions, whose S3 endpoints are `s3.<region>.amazonaws.com`. */
const AWS_REGION = /^(?:us|eu|ap|sa|ca|me|af|il|mx)-(?:gov-)?[a-z]+-\d+$/;

/**
 * The endpoint direct GETs use, or undefined when GETs must go through the SDK: `direct: false`;
 * a `clientConfig` (it may change the endpoint, the handler or signing) unless `direct: true`;
 * FIPS or dual-stack endpoints asked for in the environment; a region outside the standard AWS
 * partitions without a custom endpoint (China, ISO); an endpoint that is not http(s).
 */
export function directEndpoint(
  o: DirectOptions,
  env: NodeJS.ProcessEnv = process.env,
): DirectEndpoint | undefined {
  if (o.direct === false) return undefined;
  if (o.clientConfig !== undefined && o.direct !== true) return undefined;
  const on = (name: string) => (env[name] ?? '').toLowerCase() === 'true';
  if (on('AWS_USE_FIPS_ENDPOINT') || on('AWS_USE_DUALSTACK_ENDPOINT')) return undefined;
  if (o.endpoint !== undefined) {
    let u: URL;
    try {
      u = new URL(o.endpoint);
    } catch {
      return undefined; // the SDK reports the bad endpoint in its own words
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
    return {
      protocol: u.protocol,
      hostname: u.hostname,
      port: u.port === '' ? undefined : Number(u.port),
      basePath: u.pathname.replace(/\/+$/, ''),
      pathStyle: o.forcePathStyle ?? true,
    };
  }
  if (!AWS_REGION.test(o.region)) return undefined;
  return {
    protocol: 'https:',
    hostname: `s3.${o.region}.amazonaws.com`,
    port: undefined,
    basePath: '',
    pathStyle: o.forcePathStyle,
  };
}

/** One request's address. */
export interface DirectTarget {
  protocol: 'http:' | 'https:';
  hostname: string;
  port: number | undefined;
  /** The Host header (and signed host): hostname, plus the port when not the default. */
  host: string;
  /** The request path, percent-encoded. */
  path: string;
}

/** A bucket name usable as a DNS label (virtual-hosted addressing; no dots, so TLS certificates match). */
const DNS_BUCKET = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;

/**
 * Where `bucket/key` lives under `ep`, or undefined for buckets the SDK must address itself
 * (S3 Express directory buckets and Object Lambda aliases need their own auth and endpoints).
 */
export function directTarget(
  ep: DirectEndpoint,
  bucket: string,
  key: string,
): DirectTarget | undefined {
  if (/--(?:x-s3|ol-s3)$/.test(bucket)) return undefined;
  const virtual = ep.pathStyle === false || (ep.pathStyle === undefined && DNS_BUCKET.test(bucket));
  const hostname = virtual ? `${bucket}.${ep.hostname}` : ep.hostname;
  return {
    protocol: ep.protocol,
    hostname,
    port: ep.port,
    host: ep.port === undefined ? hostname : `${hostname}:${ep.port}`,
    path: `${ep.basePath}/${virtual ? '' : `${encodeSegment(bucket)}/`}${encodeKey(key)}`,
  };
}

/** RFC 3986 percent-encoding of one path segment, as SigV4 and S3 expect: only unreserved characters stay. */
export function encodeSegment(s: string): string {
  return encodeURIComponent(s).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** An object key as a request path: each `/`-separated segment encoded, the slashes kept. */
export function encodeKey(key: string): string {
  return key.split('/').map(encodeSegment).join('/');
}

/** SHA-256 of the empty body: what a GET or HEAD signs as its payload hash. */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** A request to sign. Header names in `headers` are lowercase; they are signed and sent. */
export interface SignInput {
  method: 'GET' | 'HEAD';
  target: DirectTarget;
  headers: Record<string, string>;
  region: string;
  credentials: SigningCredentials;
  date: Date;
}

/**
 * AWS Signature Version 4 for S3 requests without a body (header-based auth, no query string).
 * The derived signing key is cached per access key, day and region, so a request costs two
 * SHA-256 digests and one HMAC. Checked against `@smithy/signature-v4` in the tests.
 */
export class SigV4Signer {
  #cached: { id: string; secret: string; day: string; region: string; key: Buffer } | undefined;

  /** The headers to send: `headers` plus host, x-amz-date, x-amz-content-sha256, the session token and authorization. */
  sign(input: SignInput): Record<string, string> {
    const { credentials: c, region } = input;
    const amzDate = input.date.toISOString().replace(/[-:]|\.\d{3}/g, '');
    const day = amzDate.slice(0, 8);
    const headers: Record<string, string> = {
      ...input.headers,
      host: input.target.host,
      'x-amz-content-sha256': EMPTY_SHA256,
      'x-amz-date': amzDate,
    };
    if (c.sessionToken) headers['x-amz-security-token'] = c.sessionToken;
    const names = Object.keys(headers).sort();
    const signed = names.join(';');
    let canonical = `${input.method}\n${input.target.path}\n\n`;
    for (const n of names) canonical += `${n}:${headers[n]!.trim().replace(/\s+/g, ' ')}\n`;
    canonical += `\n${signed}\n${EMPTY_SHA256}`;
    const scope = `${day}/${region}/s3/aws4_request`;
    const toSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${createHash('sha256').update(canonical).digest('hex')}`;
    const signature = createHmac('sha256', this.#key(c, day, region))
      .update(toSign)
      .digest('hex');
    headers.authorization = `AWS4-HMAC-SHA256 Credential=${c.accessKeyId}/${scope}, SignedHeaders=${signed}, Signature=${signature}`;
    return headers;
  }

  #key(c: SigningCredentials, day: string, region: string): Buffer {
    const k = this.#cached;
    if (
      k?.id === c.accessKeyId &&
      k.secret === c.secretAccessKey &&
      k.day === day &&
      k.region === region
    )
      return k.key;
    let key = createHmac('sha256', `AWS4${c.secretAccessKey}`).update(day).digest();
    for (const part of [region, 's3', 'aws4_request'])
      key = createHmac('sha256', key).update(part).digest();
    this.#cached = { id: c.accessKeyId, secret: c.secretAccessKey, day, region, key };
    return key;
  }
}

/** A successful direct response: the status line, headers and the body stream. */
export interface DirectResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: IncomingMessage;
}

/** What a failed request throws: shaped like an SDK service exception, so one mapping serves both paths. */
export interface S3ServiceError extends Error {
  $metadata: { httpStatusCode: number };
  $response: { headers: Record<string, string> };
}

/** Error bodies are read up to this size (S3's are a few hundred bytes of XML). */
const ERROR_BODY_LIMIT = 64 << 10;

/** Names for error answers without an XML body (HEAD, or a proxy's plain text). */
const STATUS_NAMES: Record<number, string> = {
  301: 'PermanentRedirect',
  400: 'BadRequest',
  403: 'Forbidden',
  404: 'NotFound',
  503: 'ServiceUnavailable',
};

/** Sends signed GETs on keep-alive agents owned by one driver. */
export class DirectClient {
  readonly #signer = new SigV4Signer();
  readonly #agents = {
    'http:': new http.Agent({ keepAlive: true, maxFreeSockets: 256, scheduling: 'lifo' }),
    'https:': new https.Agent({ keepAlive: true, maxFreeSockets: 256, scheduling: 'lifo' }),
  };

  constructor(
    private readonly region: string,
    private readonly credentials: () => Promise<SigningCredentials>,
    private readonly extraHeaders: Record<string, string>,
  ) {}

  /** GETs `target`; resolves on a 2xx status line, rejects with an {@link S3ServiceError} on any other. */
  async get(
    target: DirectTarget,
    range: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<DirectResponse> {
    const credentials = await this.credentials();
    const headers = this.#signer.sign({
      method: 'GET',
      target,
      headers: range ? { ...this.extraHeaders, range } : this.extraHeaders,
      region: this.region,
      credentials,
      date: new Date(),
    });
    headers['user-agent'] = 'streams-downloader';
    const transport = target.protocol === 'https:' ? https : http;
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = transport.request(
        {
          protocol: target.protocol,
          hostname: target.hostname.replace(/^\[|\]$/g, ''),
          port: target.port,
          path: target.path,
          method: 'GET',
          headers,
          agent: this.#agents[target.protocol],
          signal,
        },
        resolve,
      );
      req.once('error', reject);
      req.end();
    });
    const status = res.statusCode ?? 0;
    if (status >= 200 && status < 300) return { status, headers: res.headers, body: res };
    throw await serviceError(res, status);
  }

  destroy(): void {
    this.#agents['http:'].destroy();
    this.#agents['https:'].destroy();
  }
}

/** Reads an error answer's XML (`<Code>`, `<Message>`) into an SDK-shaped exception. */
async function serviceError(res: IncomingMessage, status: number): Promise<S3ServiceError> {
  // A broken error body still has its status (and whatever part of the XML arrived).
  const xml = await readText(res, ERROR_BODY_LIMIT, 'partial');
  const tag = (name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];
  const name = tag('Code') ?? STATUS_NAMES[status] ?? `HTTP${status}`;
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(res.headers))
    if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
  const err = new Error(tag('Message') ?? name) as S3ServiceError;
  err.name = name;
  err.$metadata = { httpStatusCode: status };
  err.$response = { headers };
  return err;
}
