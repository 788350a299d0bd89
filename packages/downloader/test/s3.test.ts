import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFaultProxy, startS3Server, type TestS3Server } from '@streams/testkit';
import { expect, it } from 'vitest';
import { s3Driver } from '../src/drivers/s3.js';
import { createFetchEngine } from '../src/fetchEngine.js';
import { testBytes, testDriver } from './driverSuite.js';

let server: TestS3Server;
testDriver({
  name: 's3',
  async setup() {
    server = await startS3Server({ buckets: ['conformance'] });
    // A page size of 2 makes every listing span several pages.
    const driver = s3Driver({
      endpoint: server.endpoint,
      credentials: server.credentials,
      region: server.region,
      listPageSize: 2,
    });
    return { driver, base: 's3://conformance/run/' };
  },
  teardown: () => server.close(),
  extraTests(ctx) {
    it('uploads large objects in parts (multipart) and reads them back', async () => {
      await using proxy = await startFaultProxy({ target: server.endpoint });
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
      await using proxy = await startFaultProxy({ target: server.endpoint });
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

    it('sends x-amz-request-payer for requester-pays buckets', async () => {
      await using proxy = await startFaultProxy({ target: server.endpoint });
      const d = s3Driver({
        endpoint: proxy.url,
        credentials: server.credentials,
        requesterPays: true,
      });
      expect((await d.stat(`${ctx().base}small.bin`)).size).toBe(1000);
      await d.dispose?.();
    });
  },
});
