import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

    it('authenticates with a key file, Application Default Credentials or inline credentials', async () => {
      // Each account's key signs the JWTs the auth library sends; the emulator checks them with
      // the public half. Outside googleapis.com (universeDomain) the library signs its own JWTs
      // rather than exchanging them at Google's token URL, so this runs offline.
      const account = (email: string) => {
        const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
        return {
          email,
          publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
          json: {
            type: 'service_account',
            project_id: 'test',
            private_key_id: `${email}-key`,
            private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
            client_email: email,
            client_id: '1',
            universe_domain: 'emulated.test',
          },
        };
      };
      const reader = account('reader@test.iam.gserviceaccount.com');
      const stranger = account('stranger@test.iam.gserviceaccount.com');
      await using authed = await startGcsEmulator({
        buckets: ['secure'],
        serviceAccounts: { [reader.email]: reader.publicPem },
      });
      authed.putObject('secure', 'a/x.bin', testBytes(300, 4));
      const dir = await mkdtemp(join(tmpdir(), 'streams-gcs-keys-'));
      const keyFile = join(dir, 'reader.json');
      const strangerFile = join(dir, 'stranger.json');
      await writeFile(keyFile, JSON.stringify(reader.json));
      await writeFile(strangerFile, JSON.stringify(stranger.json));
      const base = {
        apiEndpoint: authed.url,
        projectId: 'test',
        useAuthWithCustomEndpoint: true,
        universeDomain: 'emulated.test',
      };
      /** Stat, ranged read and listing through a driver; the emulator's record of callers. */
      const use = async (d: ReturnType<typeof gcsDriver>) => {
        const before = authed.requests.length;
        expect((await d.stat('gs://secure/a/x.bin')).size).toBe(300);
        expect((await (await d.getRange('gs://secure/a/x.bin', 10, 20)).bytes()).byteLength).toBe(
          20,
        );
        expect((await d.list('gs://secure/a/')).map((e) => e.key)).toEqual(['a/x.bin']);
        await d.dispose?.();
        return new Set(authed.requests.slice(before).map((r) => r.caller));
      };
      const saved = process.env.GOOGLE_APPLICATION_CREDENTIALS;
      try {
        expect(await use(gcsDriver({ ...base, keyFilename: keyFile }))).toEqual(
          new Set([reader.email]),
        );
        expect(
          await use(
            gcsDriver({
              ...base,
              credentials: {
                client_email: reader.email,
                private_key: reader.json.private_key,
              },
            }),
          ),
        ).toEqual(new Set([reader.email]));
        process.env.GOOGLE_APPLICATION_CREDENTIALS = keyFile; // ADC
        expect(await use(gcsDriver(base))).toEqual(new Set([reader.email]));
        // An account the store does not know, or a known account signed with another key:
        // refused, not retried, and no key material in the error.
        const forgedFile = join(dir, 'forged.json');
        await writeFile(
          forgedFile,
          JSON.stringify({ ...reader.json, private_key: stranger.json.private_key }),
        );
        for (const file of [strangerFile, forgedFile]) {
          process.env.GOOGLE_APPLICATION_CREDENTIALS = file;
          const err = await gcsDriver(base)
            .stat('gs://secure/a/x.bin')
            .catch((e: unknown) => e);
          expect(err).toMatchObject({ code: 'STREAMS_FORBIDDEN', status: 401, retryable: false });
          expect((err as Error).message).not.toContain('PRIVATE KEY');
        }
        // And without credentials the emulator refuses the request.
        const anonymous = gcsDriver({ apiEndpoint: authed.url, projectId: 'test' });
        await expect(anonymous.stat('gs://secure/a/x.bin')).rejects.toMatchObject({
          code: 'STREAMS_FORBIDDEN',
          status: 401,
        });
      } finally {
        if (saved === undefined) delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
        else process.env.GOOGLE_APPLICATION_CREDENTIALS = saved;
        await rm(dir, { recursive: true, force: true });
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
