import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFaultProxy, startHttpServer, type TestHttpServer } from '@streams/testkit';
import { expect, it } from 'vitest';
import { httpDriver } from '../src/drivers/http.js';
import { s3Driver } from '../src/drivers/s3.js';
import { testDriver } from './driverSuite.js';

// The suite runs on both transports: the driver's own node:http agents (the default) and a
// fetch implementation passed in (here the global fetch).
let fetchDir = '';
let fetchServer: TestHttpServer;
testDriver({
  name: 'http (fetch transport)',
  async setup() {
    fetchDir = await mkdtemp(join(tmpdir(), 'streams-http-fetch-'));
    fetchServer = await startHttpServer({ root: fetchDir });
    return {
      driver: httpDriver({ fetch: (input, init) => fetch(input, init) }),
      base: `${fetchServer.url}run/`,
    };
  },
  async teardown() {
    await fetchServer.close();
    await rm(fetchDir, { recursive: true, force: true });
  },
  extraTests(ctx) {
    it('sends every GET and HEAD through the given fetch, redirects included', async () => {
      await using moved = await startHttpServer({
        root: fetchDir,
        redirects: { '/old.bin': `${fetchServer.url}run/small.bin` },
      });
      const seen: string[] = [];
      const d = httpDriver({
        fetch: (input, init) => {
          seen.push(`${init?.method} ${String(input)}`);
          return fetch(input, init);
        },
      });
      expect((await (await d.get(`${moved.url}old.bin`)).bytes()).byteLength).toBe(1000);
      expect((await d.stat(`${ctx().base}small.bin`)).size).toBe(1000);
      expect(seen).toEqual([
        `GET ${moved.url}old.bin`,
        `GET ${fetchServer.url}run/small.bin`,
        `HEAD ${fetchServer.url}run/small.bin`,
      ]);
    });
  },
});

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

    it('follows redirects; credentials go only to the host they are configured for', async () => {
      await using target = await startHttpServer({ root: dir });
      await using origin = await startHttpServer({
        root: dir,
        redirects: {
          '/same.bin': '/run/small.bin',
          '/away.bin': `${target.url}run/small.bin`,
          '/loop.bin': '/loop.bin',
          '/ftp.bin': 'ftp://example.com/x.bin',
        },
      });
      const host = (s: TestHttpServer) => `127.0.0.1:${s.port}`;
      const d = httpDriver({
        credentials: {
          [host(origin)]: { bearer: 'origin-secret', headers: { 'X-Api-Key': 'origin-key' } },
        },
      });
      // Same origin: the credentials follow.
      expect((await (await d.get(`${origin.url}same.bin`)).bytes()).byteLength).toBe(1000);
      expect(origin.requests.map((r) => [r.path, r.headers.authorization])).toEqual([
        ['/same.bin', 'Bearer origin-secret'],
        ['/run/small.bin', 'Bearer origin-secret'],
      ]);
      // Another host: none of the origin's secrets, header or URL user info, reach it.
      expect((await (await d.get(`${origin.url}away.bin`)).bytes()).byteLength).toBe(1000);
      const withUser = `http://u:pw@${host(origin)}/away.bin`;
      expect((await (await httpDriver().getRange(withUser, 10, 5)).bytes()).byteLength).toBe(5);
      expect(target.requests).toHaveLength(2);
      for (const r of target.requests) {
        expect(r.headers.authorization).toBeUndefined();
        expect(r.headers['x-api-key']).toBeUndefined();
      }
      expect(target.requests[1]?.headers.range).toBe('bytes=10-14');
      expect(origin.requests.at(-1)?.headers.authorization).toBe(
        `Basic ${Buffer.from('u:pw').toString('base64')}`,
      );
      // The target's own credentials apply once the redirect reaches it.
      await using guarded = await startHttpServer({ root: dir, auth: { bearer: 'target-token' } });
      await using toGuarded = await startHttpServer({
        root: dir,
        redirects: { '/x.bin': `${guarded.url}run/small.bin` },
      });
      const both = httpDriver({ credentials: { [host(guarded)]: { bearer: 'target-token' } } });
      expect((await both.stat(`${toGuarded.url}x.bin`)).size).toBe(1000);
      // Uploads never follow a redirect (the body cannot be replayed, the secrets must not travel).
      await expect(d.put(`${origin.url}away.bin`, new Uint8Array(3))).rejects.toMatchObject({
        code: 'STREAMS_INVALID_ARGUMENT',
        status: 302,
      });
      expect(target.requests).toHaveLength(2);
      // Loops and non-HTTP locations fail with a clear error instead of hanging or leaking.
      await expect(d.get(`${origin.url}loop.bin`)).rejects.toMatchObject({
        code: 'STREAMS_NETWORK',
        message: expect.stringContaining('more than 20 redirects'),
      });
      await expect(d.get(`${origin.url}ftp.bin`)).rejects.toMatchObject({
        code: 'STREAMS_NETWORK',
        message: expect.stringContaining('unsupported location'),
      });
      await d.dispose?.();
    });

    it('reads at most 64 KiB of an error body (fetch transport and s3 direct GETs too), then drops the connection', async () => {
      // An error answer with a 64 MiB body, written as fast as the client takes it.
      let written = 0;
      const huge = createServer((req, res) => {
        req.resume();
        res.writeHead(500, { 'content-type': 'application/xml' });
        const chunk = Buffer.alloc(64 << 10, 'x');
        const pump = () => {
          while (written < 64 << 20 && !res.destroyed) {
            written += chunk.byteLength;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        pump();
      });
      await new Promise<void>((r) => huge.listen(0, '127.0.0.1', r));
      const base = `http://127.0.0.1:${(huge.address() as AddressInfo).port}`;
      try {
        await expect(httpDriver().get(`${base}/x.bin`)).rejects.toMatchObject({
          code: 'STREAMS_NETWORK',
          status: 500,
        });
        expect(written).toBeLessThan(16 << 20);
        written = 0;
        const viaFetch = httpDriver({ fetch: (input, init) => fetch(input, init) });
        await expect(viaFetch.get(`${base}/x.bin`)).rejects.toMatchObject({ status: 500 });
        expect(written).toBeLessThan(16 << 20);
        written = 0;
        const s3 = s3Driver({
          endpoint: base,
          credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
        });
        await expect(s3.get('s3://bucket/x.bin')).rejects.toMatchObject({ status: 500 });
        expect(written).toBeLessThan(16 << 20);
        await s3.dispose?.();
      } finally {
        huge.closeAllConnections();
        await new Promise((r) => huge.close(r));
      }
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
