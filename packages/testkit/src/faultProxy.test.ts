import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAULT_KINDS, type FaultKind, startFaultProxy } from './faultProxy.js';
import { startHttpServer, type TestHttpServer } from './httpServer.js';
import { NodeSha256 } from './sigV4.js';

let dir: string;
let server: TestHttpServer;
const body = Buffer.alloc(4000, 7);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'testkit-proxy-'));
  await writeFile(join(dir, 'x.bin'), body);
  server = await startHttpServer({ root: dir });
});
afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

async function outcome(url: string): Promise<string> {
  try {
    const res = await fetch(url);
    const got = Buffer.from(await res.arrayBuffer());
    return `${res.status}:${got.equals(body) ? 'full' : got.length}`;
  } catch (err) {
    return `error:${(err as Error).message}`;
  }
}

describe('fault proxy', () => {
  it('forwards untouched at rate 0', async () => {
    await using proxy = await startFaultProxy({ target: server.url });
    expect(await outcome(`${proxy.url}/x.bin`)).toBe('200:full');
    expect(proxy.log).toEqual([
      { method: 'GET', path: '/x.bin', headers: expect.any(Object), fault: undefined },
    ]);
  });

  it('verifySigV4 forwards correctly signed requests and answers the rest 403 without forwarding', async () => {
    await using proxy = await startFaultProxy({
      target: server.url,
      verifySigV4: { AKID: 'right' },
    });
    const host = new URL(proxy.url).host;
    async function signed(secret: string, path: string): Promise<Record<string, string>> {
      const signer = new SignatureV4({
        service: 's3',
        region: 'us-east-1',
        credentials: { accessKeyId: 'AKID', secretAccessKey: secret },
        sha256: NodeSha256,
        uriEscapePath: false,
      });
      const req = await signer.sign({
        method: 'GET',
        protocol: 'http:',
        hostname: host,
        path,
        query: { 'list-type': '2', prefix: 'a b+c' },
        headers: { host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', range: 'bytes=0-9' },
      });
      return req.headers as Record<string, string>;
    }
    const query = '?list-type=2&prefix=a%20b%2Bc';
    const before = server.requests.length;
    const ok = await fetch(`${proxy.url}/x.bin${query}`, {
      headers: await signed('right', '/x.bin'),
    });
    expect(ok.status).toBe(206);
    await ok.arrayBuffer();
    expect(server.requests.length).toBe(before + 1);
    for (const headers of [
      await signed('wrong', '/x.bin'), // another secret
      await signed('right', '/y.bin'), // signed for another path
      { ...(await signed('right', '/x.bin')), range: 'bytes=0-99' }, // a signed header changed
      {}, // not signed at all
    ]) {
      const res = await fetch(`${proxy.url}/x.bin${query}`, { headers });
      expect(res.status).toBe(403);
      expect(await res.text()).toContain('<Code>SignatureDoesNotMatch</Code>');
    }
    expect(server.requests.length).toBe(before + 1);
    expect(proxy.log.map((r) => r.signature)).toEqual([
      'valid',
      'invalid',
      'invalid',
      'invalid',
      'invalid',
    ]);
  });

  it('injects each fault kind as documented', async () => {
    const seen: Record<string, string> = {};
    for (const kind of FAULT_KINDS) {
      await using proxy = await startFaultProxy({
        target: server.url,
        plan: () => kind,
        stallMs: 200,
      });
      seen[kind] = await outcome(`${proxy.url}/x.bin`);
      expect(proxy.faults[kind]).toBe(1);
    }
    expect(seen.http500).toBe(`500:${'injected internal error'.length}`);
    expect(seen.http503).toMatch(/^503:/);
    expect(seen.http429).toMatch(/^429:/);
    expect(seen.slowdown).toMatch(/^503:/);
    expect(seen.drip).toBe('200:full');
    for (const broken of ['reset', 'truncate', 'stall'] as FaultKind[])
      expect(seen[broken]).toMatch(/^error:/);
  });

  it('draws the same faults for the same seed', async () => {
    const run = async (seed: number) => {
      await using proxy = await startFaultProxy({
        target: server.url,
        rate: 0.5,
        seed,
        kinds: ['http500', 'http503'],
      });
      for (let i = 0; i < 20; i++) await outcome(`${proxy.url}/x.bin`);
      return proxy.log.map((r) => r.fault ?? '-').join(',');
    };
    const a = await run(3);
    expect(await run(3)).toBe(a);
    expect(a).toMatch(/http5/);
    expect(a).toMatch(/-/);
  });
});
