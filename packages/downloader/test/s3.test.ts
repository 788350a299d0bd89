import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type FaultProxy,
  startFaultProxy,
  startS3Server,
  type TestS3Server,
} from '@streams/testkit';
import { expect, it } from 'vitest';
import { s3Driver } from '../src/drivers/s3.js';
import { createFetchEngine } from '../src/fetchEngine.js';
import { testBytes, testDriver } from './driverSuite.js';

/** s3rver checks no SigV4 signatures: a proxy that does (with the SDK's own signer) sits in front. */
const VERIFY = { S3RVER: 'S3RVER' };

/** Every request the suite sent through `proxy` was signed correctly. */
function allSignaturesValid(proxy: () => FaultProxy): void {
  it('every request the suite sent carried a valid SigV4 signature', () => {
    expect(proxy().log.length).toBeGreaterThan(30);
    expect(proxy().log.filter((r) => r.signature !== 'valid')).toEqual([]);
    expect(new Set(proxy().log.map((r) => r.method))).toEqual(new Set(['GET', 'HEAD', 'PUT']));
  });
}

// The whole suite runs twice: GETs sent directly (the default) and through the SDK.
let sdkServer: TestS3Server;
let sdkProxy: FaultProxy;
testDriver({
  name: 's3 (GETs through the SDK)',
  async setup() {
    sdkServer = await startS3Server({ buckets: ['conformance'] });
    sdkProxy = await startFaultProxy({ target: sdkServer.endpoint, verifySigV4: VERIFY });
    const driver = s3Driver({
      endpoint: sdkProxy.url,
      credentials: sdkServer.credentials,
      region: sdkServer.region,
      listPageSize: 2,
      direct: false,
    });
    return { driver, base: 's3://conformance/run/' };
  },
  async teardown() {
    await sdkProxy.close();
    await sdkServer.close();
  },
  extraTests(ctx) {
    allSignaturesValid(() => sdkProxy);
    it('direct: false sends GETs through the SDK', async () => {
      await using proxy = await startFaultProxy({
        target: sdkServer.endpoint,
        verifySigV4: VERIFY,
      });
      const d = s3Driver({
        endpoint: proxy.url,
        credentials: sdkServer.credentials,
        direct: false,
      });
      expect((await (await d.get(`${ctx().base}small.bin`)).bytes()).byteLength).toBe(1000);
      expect(proxy.log.map((r) => [r.method, r.headers['user-agent']])).toEqual([
        ['GET', expect.stringMatching(/aws-sdk-js/)],
      ]);
      await d.dispose?.();
    });
  },
});

let server: TestS3Server;
let proxy: FaultProxy;
testDriver({
  name: 's3',
  async setup() {
    server = await startS3Server({ buckets: ['conformance'] });
    proxy = await startFaultProxy({ target: server.endpoint, verifySigV4: VERIFY });
    // A page size of 2 makes every listing span several pages.
    const driver = s3Driver({
      endpoint: proxy.url,
      credentials: server.credentials,
      region: server.region,
      listPageSize: 2,
    });
    return { driver, base: 's3://conformance/run/' };
  },
  async teardown() {
    await proxy.close();
    await server.close();
  },
  extraTests(ctx) {
    it('sends GETs directly and everything else through the SDK', async () => {
      await using proxy = await startFaultProxy({ target: server.endpoint, verifySigV4: VERIFY });
      const d = s3Driver({ endpoint: proxy.url, credentials: server.credentials });
      const url = `${ctx().base}small.bin`;
      expect((await (await d.get(url)).bytes()).byteLength).toBe(1000);
      expect((await (await d.getRange(url, 10, 20)).bytes()).byteLength).toBe(20);
      expect((await d.stat(url)).size).toBe(1000);
      expect(proxy.log.map((r) => [r.method, r.headers['user-agent']])).toEqual([
        ['GET', 'streams-downloader'],
        ['GET', 'streams-downloader'],
        ['HEAD', expect.stringMatching(/aws-sdk-js/)],
      ]);
      expect(proxy.log[1]?.headers.range).toBe('bytes=10-29');
      await d.dispose?.();
    });

    it('direct GETs round-trip keys that need percent-encoding', async () => {
      // (s3rver cannot store keys with an empty segment such as "a//b": not tested here.)
      const keys = ['a b/c+d=e&f?g#h.bin', 'ü/日本/€.bin', "x/!'()*~.bin", 'p%20q/%2F.bin'];
      for (const [i, key] of keys.entries()) {
        const url = `s3://conformance/enc/${key.split('/').map(encodeURIComponent).join('/')}`;
        const data = testBytes(100 + i, i);
        await ctx().driver.put(url, data);
        const back = await (await ctx().driver.get(url)).bytes();
        expect(Buffer.from(back).equals(Buffer.from(data)), key).toBe(true);
      }
      const listed = await ctx().driver.list('s3://conformance/enc/');
      expect(listed.map((e) => e.key).sort()).toEqual(keys.map((k) => `enc/${k}`).sort());
    });

    it('both paths take credentials from the SDK provider chain: environment, then a profile file', async () => {
      await using verify = await startFaultProxy({ target: server.endpoint, verifySigV4: VERIFY });
      const names = [
        'AWS_ACCESS_KEY_ID',
        'AWS_SECRET_ACCESS_KEY',
        'AWS_SESSION_TOKEN',
        'AWS_PROFILE',
        'AWS_SHARED_CREDENTIALS_FILE',
        'AWS_CONFIG_FILE',
      ] as const;
      const saved = Object.fromEntries(names.map((n) => [n, process.env[n]]));
      const home = await mkdtemp(join(tmpdir(), 'streams-aws-profile-'));
      const { accessKeyId, secretAccessKey } = server.credentials;
      await writeFile(
        join(home, 'credentials'),
        `[good]\naws_access_key_id = ${accessKeyId}\naws_secret_access_key = ${secretAccessKey}\n\n` +
          `[stale]\naws_access_key_id = ${accessKeyId}\naws_secret_access_key = stale-secret\n`,
      );
      /** The outcome of one GET without explicit credentials, on each path. */
      const attempt = async () => {
        const out: unknown[] = [];
        for (const direct of [true, false]) {
          const d = s3Driver({ endpoint: verify.url, direct });
          out.push(
            await d.get(`${ctx().base}small.bin`).then(
              async (b) => (await b.bytes()).byteLength,
              (e: unknown) => e,
            ),
          );
          await d.dispose?.();
        }
        return out;
      };
      try {
        for (const n of names) delete process.env[n];
        process.env.AWS_CONFIG_FILE = join(home, 'config'); // absent: no ~/.aws of this machine
        process.env.AWS_SHARED_CREDENTIALS_FILE = join(home, 'credentials');
        process.env.AWS_ACCESS_KEY_ID = accessKeyId;
        process.env.AWS_SECRET_ACCESS_KEY = secretAccessKey;
        expect(await attempt()).toEqual([1000, 1000]);
        process.env.AWS_SECRET_ACCESS_KEY = 'not-the-secret';
        for (const err of await attempt()) {
          expect(err).toMatchObject({ code: 'STREAMS_FORBIDDEN', status: 403 });
          expect((err as Error).message).toMatch(/SignatureDoesNotMatch/);
          expect((err as Error).message).not.toContain('not-the-secret');
        }
        // No keys in the environment: the named profile of the shared credentials file.
        delete process.env.AWS_ACCESS_KEY_ID;
        delete process.env.AWS_SECRET_ACCESS_KEY;
        process.env.AWS_PROFILE = 'good';
        expect(await attempt()).toEqual([1000, 1000]);
        process.env.AWS_PROFILE = 'stale';
        for (const err of await attempt()) expect(err).toMatchObject({ code: 'STREAMS_FORBIDDEN' });
        expect(verify.log.filter((r) => r.signature === 'invalid')).toHaveLength(4);
      } finally {
        for (const n of names)
          if (saved[n] === undefined) delete process.env[n];
          else process.env[n] = saved[n];
        await rm(home, { recursive: true, force: true });
      }
    });

    it('a bucket in another region fails with STREAMS_INVALID_CONFIG naming the region, on both paths', async () => {
      // What S3 answers a request sent to the wrong regional endpoint.
      const wrongRegion = createServer((req, res) => {
        req.resume();
        res.writeHead(301, {
          'content-type': 'application/xml',
          'x-amz-bucket-region': 'eu-central-1',
        });
        res.end(
          req.method === 'HEAD'
            ? undefined
            : '<?xml version="1.0" encoding="UTF-8"?><Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting to access must be addressed using the specified endpoint.</Message></Error>',
        );
      });
      await new Promise<void>((r) => wrongRegion.listen(0, '127.0.0.1', r));
      const endpoint = `http://127.0.0.1:${(wrongRegion.address() as AddressInfo).port}`;
      try {
        for (const direct of [true, false]) {
          const d = s3Driver({ endpoint, credentials: server.credentials, direct });
          const err = await d.get('s3://elsewhere/k.bin').catch((e: unknown) => e);
          expect(err, `direct: ${direct}`).toMatchObject({
            code: 'STREAMS_INVALID_CONFIG',
            status: 301,
            fix: expect.stringContaining("region: 'eu-central-1'"),
          });
          await d.dispose?.();
        }
      } finally {
        wrongRegion.closeAllConnections();
        await new Promise((r) => wrongRegion.close(r));
      }
    });

    it('uploads large objects in parts (multipart) and reads them back', async () => {
      await using proxy = await startFaultProxy({ target: server.endpoint, verifySigV4: VERIFY });
      const data = testBytes(11 << 20, 5); // [11 MiB] in 5 MiB parts
      const d = s3Driver({
        endpoint: proxy.url,
        credentials: server.credentials,
        multipartThreshold: 6 << 20,
        partSize: 5 << 20,
      });
      async function* parts() {
        for (let i = 0; i < data.byteLength; i += 1 << 20) yield data.subarray(i, i + (1 << 20));
      }
      const s = await d.put('s3://conformance/multipart.bin', parts());
      expect(s.size).toBe(data.byteLength);
      const uploads = proxy.log.filter((r) => r.method === 'PUT' && /partNumber=\d+/.test(r.path));
      expect(uploads.length).toBe(3);
      expect(proxy.log.some((r) => r.method === 'POST' && r.path.includes('uploads'))).toBe(true);
      const back = await (await ctx().driver.get('s3://conformance/multipart.bin')).bytes();
      expect(Buffer.from(back).equals(Buffer.from(data))).toBe(true);
      await d.dispose?.();
    });

    it('refuses unknown credentials with STREAMS_FORBIDDEN and a missing bucket with STREAMS_NOT_FOUND', async () => {
      const bad = s3Driver({
        endpoint: server.endpoint,
        credentials: { accessKeyId: 'NOT-A-KEY', secretAccessKey: 'wrong-secret' },
      });
      const denied = await bad.get(`${ctx().base}small.bin`).catch((e: unknown) => e);
      expect(denied).toMatchObject({ code: 'STREAMS_FORBIDDEN' });
      expect((denied as Error).message).not.toContain('wrong-secret');
      const err = await ctx()
        .driver.get('s3://no-such-bucket/key.bin')
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'STREAMS_NOT_FOUND' });
      expect((err as Error).message).toMatch(/NoSuchBucket/);
      await bad.dispose?.();
    });

    it('through the engine, a missing bucket or key fails at once: one request, no retry storm', async () => {
      await using proxy = await startFaultProxy({ target: server.endpoint, verifySigV4: VERIFY });
      const d = s3Driver({ endpoint: proxy.url, credentials: server.credentials });
      const engine = createFetchEngine({ seed: 1, backoffBaseMs: 1, driverFor: () => d });
      await expect(
        engine.download('s3://no-such-bucket/k.bin', join(tmpdir(), 'streams-never', 'k.bin')),
      ).rejects.toMatchObject({
        code: 'STREAMS_NOT_FOUND',
        message: expect.stringContaining('NoSuchBucket'),
      });
      await expect(engine.read(`${ctx().base}no-such-key.bin`)).rejects.toMatchObject({
        code: 'STREAMS_NOT_FOUND',
      });
      expect(proxy.log.map((r) => r.method)).toEqual(['GET', 'GET']);
      await d.dispose?.();
    });

    it('sends x-amz-request-payer for requester-pays buckets, signed, on both paths', async () => {
      await using proxy = await startFaultProxy({ target: server.endpoint, verifySigV4: VERIFY });
      const d = s3Driver({
        endpoint: proxy.url,
        credentials: server.credentials,
        requesterPays: true,
      });
      expect((await d.stat(`${ctx().base}small.bin`)).size).toBe(1000);
      expect((await (await d.get(`${ctx().base}small.bin`)).bytes()).byteLength).toBe(1000);
      expect(proxy.log.map((r) => [r.method, r.headers['x-amz-request-payer']])).toEqual([
        ['HEAD', 'requester'],
        ['GET', 'requester'],
      ]);
      // The header is signed, not just sent, and the proxy verified both signatures.
      expect(proxy.log[1]?.headers.authorization).toMatch(/SignedHeaders=[^,]*x-amz-request-payer/);
      expect(proxy.log.map((r) => r.signature)).toEqual(['valid', 'valid']);
      await d.dispose?.();
    });

    allSignaturesValid(() => proxy);
  },
});
