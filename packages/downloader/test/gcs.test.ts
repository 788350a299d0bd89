import { type GcsEmulator, startFaultProxy, startGcsEmulator } from '@streams/testkit';
import { expect, it } from 'vitest';
import { gcsDriver } from '../src/drivers/gcs.js';
import { testBytes, testDriver } from './driverSuite.js';

// The GCS side is a small JSON-API emulator from @streams/testkit (no real GCS offline).
let emu: GcsEmulator;
testDriver({
  name: 'gcs',
  async setup() {
    emu = await startGcsEmulator({ buckets: ['conformance'] });
    const driver = gcsDriver({ apiEndpoint: emu.url, projectId: 'test', listPageSize: 2 });
    return { driver, base: 'gs://conformance/run/' };
  },
  teardown: () => emu.close(),
  extraTests(ctx) {
    it('uses a resumable upload for large objects', async () => {
      const d = gcsDriver({ apiEndpoint: emu.url, projectId: 'test', resumableThreshold: 1 << 20 });
      const data = testBytes(3 << 20, 9); // [3 MiB]
      const s = await d.put('gs://conformance/resumable.bin', data);
      expect(s.size).toBe(data.byteLength);
      expect(s.generation).toMatch(/^\d+$/);
      expect(emu.requests.some((r) => r.path.includes('uploadType=resumable'))).toBe(true);
      const back = await (await ctx().driver.get('gs://conformance/resumable.bin')).bytes();
      expect(Buffer.from(back).equals(Buffer.from(data))).toBe(true);
    });

    it('unusable credentials are STREAMS_FORBIDDEN, not a network error to retry', async () => {
      for (const creds of [
        { keyFilename: '/nonexistent/streams-key.json' },
        { credentials: { client_email: 'x@y.iam.gserviceaccount.com', private_key: 'not a key' } },
      ]) {
        const d = gcsDriver({
          apiEndpoint: emu.url,
          projectId: 'test',
          useAuthWithCustomEndpoint: true,
          ...creds,
        });
        const err = await d.stat(`${ctx().base}small.bin`).catch((e: unknown) => e);
        expect(err).toMatchObject({ code: 'STREAMS_FORBIDDEN', retryable: false });
        expect((err as Error).message).not.toContain('not a key');
      }
    });

    it('a failed list page fails the whole listing', async () => {
      let lists = 0;
      await using proxy = await startFaultProxy({
        target: emu.url,
        plan: (req) =>
          /\/o\?/.test(req.url ?? '') && !/alt=media/.test(req.url ?? '') && ++lists === 2
            ? 'http500'
            : undefined,
      });
      const d = gcsDriver({ apiEndpoint: proxy.url, projectId: 'test', listPageSize: 2 });
      await expect(d.list(`${ctx().base}list/`)).rejects.toMatchObject({
        code: 'STREAMS_NETWORK',
        status: 500,
      });
      expect(lists).toBeGreaterThanOrEqual(2);
    });

    it('a missing bucket is STREAMS_NOT_FOUND naming the bucket', async () => {
      const err = await ctx()
        .driver.stat('gs://no-such-bucket/x.bin')
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'STREAMS_NOT_FOUND' });
      expect((err as Error).message).toMatch(/bucket does not exist/);
    });
  },
});
