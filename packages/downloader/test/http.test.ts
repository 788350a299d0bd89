import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFaultProxy, startHttpServer, type TestHttpServer } from '@streams/testkit';
import { expect, it } from 'vitest';
import { httpDriver } from '../src/drivers/http.js';
import { testDriver } from './driverSuite.js';

let dir = '';
let server: TestHttpServer;
testDriver({
  name: 'http',
  async setup() {
    dir = await mkdtemp(join(tmpdir(), 'streams-http-driver-'));
    server = await startHttpServer({ root: dir });
    return { driver: httpDriver(), base: `${server.url}run/` };
  },
  async teardown() {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  },
  extraTests(ctx) {
    it('sends per-host credentials from options, STREAMS_HTTP_CREDENTIALS or the URL', async () => {
      await using bearer = await startHttpServer({ root: dir, auth: { bearer: 'b-token' } });
      await using basic = await startHttpServer({
        root: dir,
        auth: { basic: { username: 'u', password: 'p@ss' } },
      });
      const url = (s: TestHttpServer) => `${s.url}run/small.bin`;
      await expect(httpDriver().stat(url(bearer))).rejects.toMatchObject({
        code: 'STREAMS_FORBIDDEN',
      });
      expect(
        (
          await httpDriver({
            credentials: { [`127.0.0.1:${bearer.port}`]: { bearer: 'b-token' } },
          }).stat(url(bearer))
        ).size,
      ).toBe(1000);
      const old = process.env.STREAMS_HTTP_CREDENTIALS;
      process.env.STREAMS_HTTP_CREDENTIALS = JSON.stringify({
        [`127.0.0.1:${basic.port}`]: { basic: { username: 'u', password: 'p@ss' } },
      });
      try {
        expect((await (await httpDriver().get(url(basic))).bytes()).byteLength).toBe(1000);
        process.env.STREAMS_HTTP_CREDENTIALS = '{not json';
        expect(() => httpDriver()).toThrow(
          expect.objectContaining({ code: 'STREAMS_INVALID_CONFIG' }),
        );
      } finally {
        if (old === undefined) delete process.env.STREAMS_HTTP_CREDENTIALS;
        else process.env.STREAMS_HTTP_CREDENTIALS = old;
      }
      const headers = httpDriver({
        credentials: {
          [`127.0.0.1:${bearer.port}`]: { bearer: 'b-token', headers: { 'X-Api-Key': 'k-123' } },
        },
      });
      await headers.stat(url(bearer));
      expect(bearer.requests.at(-1)?.headers['x-api-key']).toBe('k-123');
      const withUser = `http://u:${encodeURIComponent('p@ss')}@127.0.0.1:${basic.port}/run/small.bin`;
      expect((await httpDriver().stat(withUser)).size).toBe(1000);
      expect(basic.requests.every((r) => !String(r.path).includes('p@ss'))).toBe(true);
    });

    it('a failed sub-directory page fails the whole listing', async () => {
      await using proxy = await startFaultProxy({
        target: server.url,
        plan: (req) => (req.url === '/run/list/b/' ? 'http500' : undefined),
      });
      await expect(httpDriver().list(`${proxy.url}/run/list/`)).rejects.toMatchObject({
        code: 'STREAMS_NETWORK',
        status: 500,
      });
      expect((await httpDriver().list(`${server.url}run/list/`)).length).toBe(5);
    });

    it('falls back to a range GET when HEAD is refused, and slices when Range is ignored', async () => {
      await using plain = await startHttpServer({ root: dir, noHead: true, ignoreRange: true });
      const d = httpDriver();
      const url = `${plain.url}run/small.bin`;
      expect((await d.stat(url)).size).toBe(1000);
      const want = await (await ctx().driver.getRange(`${ctx().base}small.bin`, 10, 20)).bytes();
      const got = await (await d.getRange(url, 10, 20)).bytes();
      expect(Buffer.from(got).equals(Buffer.from(want))).toBe(true);
      // From offset 0 too: the rest of the ignored-range body is cut off.
      const head = await (await d.getRange(url, 0, 7)).bytes();
      expect(head.byteLength).toBe(7);
      expect(plain.requests.some((r) => r.method === 'HEAD' && r.status === 405)).toBe(true);
    });
  },
});
