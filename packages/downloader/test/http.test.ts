import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHttpServer, type TestHttpServer } from '@streams/testkit';
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
    it('falls back to a range GET when HEAD is refused, and slices when Range is ignored', async () => {
      await using plain = await startHttpServer({ root: dir, noHead: true, ignoreRange: true });
      const d = httpDriver();
      const url = `${plain.url}run/small.bin`;
      expect((await d.stat(url)).size).toBe(1000);
      const want = await (await ctx().driver.getRange(`${ctx().base}small.bin`, 10, 20)).bytes();
      const got = await (await d.getRange(url, 10, 20)).bytes();
      expect(Buffer.from(got).equals(Buffer.from(want))).toBe(true);
      expect(plain.requests.some((r) => r.method === 'HEAD' && r.status === 405)).toBe(true);
    });
  },
});
