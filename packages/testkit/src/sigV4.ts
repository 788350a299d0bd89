import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { SignatureV4 } from '@smithy/signature-v4';

type Data = string | ArrayBuffer | ArrayBufferView;
const bytes = (d: Data): string | Uint8Array =>
  typeof d === 'string'
    ? d
    : d instanceof ArrayBuffer
      ? new Uint8Array(d)
      : new Uint8Array(d.buffer, d.byteOffset, d.byteLength);

/** The SHA-256 (or, with a secret, HMAC-SHA256) constructor `@smithy/signature-v4` takes, over node:crypto. */
export class NodeSha256 {
  #h: Hash | Hmac;
  constructor(secret?: Data) {
    this.#h = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: Data): void {
    this.#h.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return this.#h.digest();
  }
  reset(): void {}
}

/** Outcome of {@link checkSigV4}. */
export type SigV4Check =
  | { ok: true; accessKeyId: string }
  | { ok: false; reason: string; accessKeyId?: string };

const AUTH =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/;

/**
 * Verifies the AWS Signature Version 4 `Authorization` header of an incoming request by signing
 * the same request again with the AWS SDK's own signer (`@smithy/signature-v4`) and the secret
 * of its access key. s3rver accepts any SigV4 signature from a known key (its v4 check is not
 * implemented), so tests that must prove a client signs correctly put this in front of it. The
 * payload is not read: the signed `x-amz-content-sha256` value is taken as the payload hash.
 */
export async function checkSigV4(
  req: IncomingMessage,
  secrets: Readonly<Record<string, string>>,
): Promise<SigV4Check> {
  const auth = req.headers.authorization ?? '';
  const m = AUTH.exec(auth);
  if (!m) return { ok: false, reason: `not a SigV4 header-signed request: ${auth.slice(0, 40)}` };
  const [, accessKeyId, day, region, service, signedList, signature] = m as unknown as string[];
  const secret = secrets[accessKeyId!];
  if (secret === undefined) return { ok: false, reason: 'unknown access key', accessKeyId };
  const amzDate = String(req.headers['x-amz-date'] ?? '');
  const date = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!date || amzDate.slice(0, 8) !== day)
    return { ok: false, reason: `bad x-amz-date ${amzDate}`, accessKeyId };
  const headers: Record<string, string> = {};
  for (const name of signedList!.split(';')) {
    const v = req.headers[name];
    if (v === undefined) return { ok: false, reason: `signed header ${name} missing`, accessKeyId };
    headers[name] = Array.isArray(v) ? v.join(',') : v;
  }
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const query: Record<string, string | string[]> = {};
  if (q >= 0)
    for (const [k, v] of new URLSearchParams(url.slice(q + 1))) {
      const had = query[k];
      query[k] = had === undefined ? v : [...(Array.isArray(had) ? had : [had]), v];
    }
  const [, y, mo, d, h, mi, s] = date.map(Number) as number[];
  const signer = new SignatureV4({
    service: service!,
    region: region!,
    credentials: {
      accessKeyId: accessKeyId!,
      secretAccessKey: secret,
      ...(headers['x-amz-security-token'] ? { sessionToken: headers['x-amz-security-token'] } : {}),
    },
    sha256: NodeSha256,
    uriEscapePath: false,
    applyChecksum: false,
  });
  const signed = await signer.sign(
    {
      method: req.method ?? 'GET',
      protocol: 'http:',
      hostname: String(req.headers.host ?? ''),
      path: q >= 0 ? url.slice(0, q) : url,
      query,
      headers,
    },
    { signingDate: new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, s!)) },
  );
  const expected = /Signature=([0-9a-f]{64})/.exec(String(signed.headers.authorization))?.[1];
  return expected === signature
    ? { ok: true, accessKeyId: accessKeyId! }
    : { ok: false, reason: 'signature does not match', accessKeyId };
}
