import { describe, expect, it } from 'vitest';
import { redactText, redactUrl } from './redact.js';

const SECRETS = [
  'AKIAEXAMPLE',
  'sigv4sig0123',
  'sessiontok',
  'sasSig%3D',
  'b3arer.tok-en',
  'dXNlcjpwYXNz',
  'k3y',
];

describe('redactText', () => {
  it('redacts what an echoing server sends back: request line, headers, JSON and S3 XML', () => {
    const raw = [
      'GET /bucket/key?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F20260101&X-Amz-Signature=sigv4sig0123&X-Amz-Security-Token=sessiontok&part=1 HTTP/1.1',
      'host: 127.0.0.1:9000',
      'authorization: AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=sigv4sig0123',
      'x-amz-security-token: sessiontok',
      'Authorization: Bearer b3arer.tok-en',
      'proxy-authorization: Basic dXNlcjpwYXNz',
      'X-Api-Key: k3y',
      '',
    ].join('\r\n');
    const json = JSON.stringify({
      url: '/c/blob?sv=2024-01-01&sig=sasSig%3D&se=2030',
      headers: { authorization: 'Bearer b3arer.tok-en', 'x-amz-security-token': 'sessiontok' },
      access_token: 'b3arer.tok-en',
    });
    const xml =
      '<Error><Code>SignatureDoesNotMatch</Code><AWSAccessKeyId>AKIAEXAMPLE</AWSAccessKeyId><SignatureProvided>sigv4sig0123</SignatureProvided><StringToSign>AWS4-HMAC-SHA256</StringToSign></Error>';
    for (const body of [raw, json, xml, raw.replace(/\s+/g, ' ')]) {
      const out = redactText(body);
      for (const s of SECRETS) expect(out).not.toContain(s);
      expect(redactText(out)).toBe(out); // idempotent: redacting twice changes nothing
    }
    const out = redactText(raw);
    expect(out).toContain('host: 127.0.0.1:9000'); // the rest stays readable
    expect(out).toContain('X-Amz-Algorithm=AWS4-HMAC-SHA256');
    expect(out).toContain('part=1');
    expect(out).toContain('x-amz-security-token: ***');
    expect(redactText(json)).toContain('"authorization":"***"');
    expect(redactText(xml)).toContain('<Code>SignatureDoesNotMatch</Code>');
    expect(redactText(xml)).toContain('<SignatureProvided>***</SignatureProvided>');
  });

  it('redacts full URLs as redactUrl does and leaves ordinary text alone', () => {
    const url = 'https://u:p4ss@h.test/x?token=t0ps3cret&a=1';
    expect(redactText(`GET ${url} failed`)).toBe(`GET ${redactUrl(url)} failed`);
    const plain = 'cannot cache "s3/bucket/x.mds": it needs 2 MiB (size=5, keys: 3)';
    expect(redactText(plain)).toBe(plain);
  });
});
