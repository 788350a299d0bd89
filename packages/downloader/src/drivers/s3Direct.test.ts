import { SignatureV4 } from '@smithy/signature-v4';
import { NodeSha256 } from '@streams/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type DirectTarget,
  directEndpoint,
  directTarget,
  EMPTY_SHA256,
  encodeKey,
  type SigningCredentials,
  SigV4Signer,
} from './s3Direct.js';

/** The Authorization header the AWS SDK's own signer computes for the same request. */
async function smithyAuthorization(
  target: DirectTarget,
  headers: Record<string, string>,
  region: string,
  credentials: SigningCredentials,
  date: Date,
): Promise<string> {
  const signer = new SignatureV4({
    service: 's3',
    region,
    credentials,
    sha256: NodeSha256,
    uriEscapePath: false,
    applyChecksum: true,
  });
  const signed = await signer.sign(
    {
      method: 'GET',
      protocol: target.protocol,
      hostname: target.hostname,
      ...(target.port === undefined ? {} : { port: target.port }),
      path: target.path,
      query: {},
      headers: { ...headers, host: target.host, 'x-amz-content-sha256': EMPTY_SHA256 },
    },
    { signingDate: date },
  );
  return signed.headers.authorization as string;
}

const creds = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
};

describe('SigV4Signer', () => {
  it('signs exactly as @smithy/signature-v4 (the SDK signer) for any key, range, token and date', async () => {
    const ep = directEndpoint({ region: 'eu-west-1' })!;
    const signer = new SigV4Signer();
    await fc.assert(
      fc.asyncProperty(
        fc.string({ minLength: 1, maxLength: 40, unit: 'binary' }),
        fc.constantFrom('my-bucket', 'dotted.bucket.name'),
        fc.option(fc.tuple(fc.nat(1 << 30), fc.nat(1 << 20))),
        fc.option(fc.string({ minLength: 8, maxLength: 60, unit: 'grapheme-ascii' })),
        fc.boolean(),
        fc.date({ min: new Date('2020-01-01'), max: new Date('2035-01-01'), noInvalidDate: true }),
        async (key, bucket, range, token, payer, date) => {
          const target = directTarget(ep, bucket, key)!;
          const headers: Record<string, string> = {};
          if (range) headers.range = `bytes=${range[0]}-${range[0] + range[1]}`;
          if (payer) headers['x-amz-request-payer'] = 'requester';
          const c = token ? { ...creds, sessionToken: token } : creds;
          const ours = signer.sign({
            method: 'GET',
            target,
            headers,
            region: 'eu-west-1',
            credentials: c,
            date,
          });
          expect(ours.authorization).toBe(
            await smithyAuthorization(target, headers, 'eu-west-1', c, date),
          );
          if (token) expect(ours['x-amz-security-token']).toBe(token);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('re-derives the signing key when the day, region or secret changes', async () => {
    const signer = new SigV4Signer();
    const ep = directEndpoint({ endpoint: 'http://127.0.0.1:9000', region: 'us-east-1' })!;
    const target = directTarget(ep, 'b', 'k')!;
    const cases: [string, SigningCredentials, Date][] = [
      ['us-east-1', creds, new Date('2026-11-21T23:59:59Z')],
      ['us-east-1', creds, new Date('2026-11-22T00:00:01Z')],
      ['eu-west-1', creds, new Date('2026-11-22T00:00:02Z')],
      ['eu-west-1', { ...creds, secretAccessKey: 'rotated' }, new Date('2026-11-22T00:00:03Z')],
    ];
    for (const [region, c, date] of cases)
      expect(
        signer.sign({ method: 'GET', target, headers: {}, region, credentials: c, date })
          .authorization,
      ).toBe(await smithyAuthorization(target, {}, region, c, date));
  });
});

describe('directEndpoint / directTarget', () => {
  it('addresses AWS buckets virtual-hosted, dotted names path-style, custom endpoints path-style', () => {
    const aws = directEndpoint({ region: 'ap-southeast-2' }, {})!;
    expect(directTarget(aws, 'data', 'a b/c+d.bin')).toEqual({
      protocol: 'https:',
      hostname: 'data.s3.ap-southeast-2.amazonaws.com',
      port: undefined,
      host: 'data.s3.ap-southeast-2.amazonaws.com',
      path: '/a%20b/c%2Bd.bin',
    });
    expect(directTarget(aws, 'my.data', 'k')).toMatchObject({
      hostname: 's3.ap-southeast-2.amazonaws.com',
      path: '/my.data/k',
    });
    const forced = directEndpoint({ region: 'us-east-1', forcePathStyle: true }, {})!;
    expect(directTarget(forced, 'data', 'k')?.path).toBe('/data/k');
    const gov = directEndpoint({ region: 'us-gov-west-1' }, {})!;
    expect(gov.hostname).toBe('s3.us-gov-west-1.amazonaws.com');

    const minio = directEndpoint({ endpoint: 'http://127.0.0.1:9000/', region: 'us-east-1' }, {})!;
    expect(directTarget(minio, 'b', 'x/y.bin')).toEqual({
      protocol: 'http:',
      hostname: '127.0.0.1',
      port: 9000,
      host: '127.0.0.1:9000',
      path: '/b/x/y.bin',
    });
    const vhost = directEndpoint(
      { endpoint: 'https://storage.example.com/s3', region: 'auto', forcePathStyle: false },
      {},
    )!;
    expect(directTarget(vhost, 'b1', 'k')).toMatchObject({
      hostname: 'b1.storage.example.com',
      host: 'b1.storage.example.com',
      path: '/s3/k',
    });
    const v6 = directEndpoint({ endpoint: 'http://[::1]:9000', region: 'us-east-1' }, {})!;
    expect(directTarget(v6, 'b', 'k')).toMatchObject({ host: '[::1]:9000', path: '/b/k' });
  });

  it('leaves to the SDK what it cannot address by itself', () => {
    expect(directEndpoint({ region: 'us-east-1', direct: false }, {})).toBeUndefined();
    expect(directEndpoint({ region: 'us-east-1', clientConfig: {} }, {})).toBeUndefined();
    expect(
      directEndpoint({ region: 'us-east-1', clientConfig: {}, direct: true }, {}),
    ).toBeDefined();
    expect(directEndpoint({ region: 'cn-north-1' }, {})).toBeUndefined();
    expect(directEndpoint({ region: 'us-iso-east-1' }, {})).toBeUndefined();
    expect(
      directEndpoint({ region: 'us-east-1' }, { AWS_USE_FIPS_ENDPOINT: 'true' }),
    ).toBeUndefined();
    expect(
      directEndpoint({ region: 'us-east-1' }, { AWS_USE_DUALSTACK_ENDPOINT: 'TRUE' }),
    ).toBeUndefined();
    expect(directEndpoint({ region: 'us-east-1', endpoint: 'ftp://x' }, {})).toBeUndefined();
    expect(directEndpoint({ region: 'us-east-1', endpoint: 'not a url' }, {})).toBeUndefined();
    const aws = directEndpoint({ region: 'us-east-1' }, {})!;
    expect(directTarget(aws, 'fast--usw2-az1--x-s3', 'k')).toBeUndefined();
  });

  it('encodes keys segment by segment with RFC 3986 rules', () => {
    expect(encodeKey("a/b c/ü/!'()*~-_./%+=&?#")).toBe(
      'a/b%20c/%C3%BC/%21%27%28%29%2A~-_./%25%2B%3D%26%3F%23',
    );
    expect(encodeKey('x//y/')).toBe('x//y/');
  });
});
