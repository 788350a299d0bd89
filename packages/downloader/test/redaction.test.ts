// Issue 16, defect 9: a server that echoes the request back in its error body must not put the
// request's signatures, tokens or credential headers into our messages and events.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { StreamsEvent } from '@streams/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpDriver } from '../src/drivers/http.js';
import { createFetchEngine } from '../src/fetchEngine.js';

const SECRETS = [
  'AKIASECRETKEYID',
  'sigv4signatureSECRET',
  'sessiontokenSECRET',
  'sasSIGsecret',
  'b3arerSECRETtoken',
  'cust0mHeaderSECRET',
];
let server: Server;
let base: string;
let host: string;

/** The request as an echoing server writes it back: as JSON (headers first), then raw. */
function echo(req: IncomingMessage): string {
  const lines = [`${req.method} ${req.url} HTTP/1.1`];
  for (let i = 0; i < req.rawHeaders.length; i += 2)
    lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
  return `${JSON.stringify({ headers: req.headers, url: req.url })}\r\n\r\n${lines.join('\r\n')}`;
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const status = req.url?.startsWith('/flaky') ? 500 : 403;
    const body = echo(req);
    res.writeHead(status, {
      'content-type': 'text/plain',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  base = `http://${host}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const signed = (path: string) =>
  `${base}${path}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIASECRETKEYID%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=sigv4signatureSECRET&X-Amz-Security-Token=sessiontokenSECRET&sig=sasSIGsecret`;

describe('error bodies that echo the request', () => {
  for (const transport of ['node:http', 'fetch'] as const) {
    it(`are redacted in messages and events (${transport})`, async () => {
      const driver = httpDriver({
        credentials: {
          [host]: {
            bearer: 'b3arerSECRETtoken',
            headers: { 'X-Custom-Auth': 'cust0mHeaderSECRET' },
          },
        },
        ...(transport === 'fetch' ? { fetch: globalThis.fetch } : {}),
      });
      const engine = createFetchEngine({
        driverFor: () => driver,
        maxAttempts: 2,
        backoffBaseMs: 1,
        backoffMaxMs: 2,
      });
      const events: StreamsEvent[] = [];
      engine.events.on((e) => events.push(e));
      const texts: string[] = [];
      for (const path of ['/forbidden.bin', '/flaky.bin']) {
        const err = (await engine.read(signed(path)).then(
          () => new Error('the read succeeded'),
          (e: unknown) => e,
        )) as Error;
        expect(err.name).toBe('TransferError');
        texts.push(err.message, JSON.stringify(err), String((err as { url?: string }).url));
      }
      texts.push(JSON.stringify(events));
      const all = texts.join('\n');
      for (const secret of SECRETS)
        expect({ secret, leaked: all.includes(secret) }).toEqual({ secret, leaked: false });
      // The message still says what happened, with the body's harmless parts.
      expect(texts[0]).toMatch(
        /GET http:\/\/127\.0\.0\.1:\d+\/forbidden\.bin\?.*failed with HTTP 403: \{"headers":\{.*"host":"127\.0\.0\.1:\d+"/,
      );
      expect(texts[0]).toContain('"authorization":"***"');
      expect(texts[0]).toContain('"x-custom-auth":"***"');
      expect(all).toContain('HTTP 500');
      expect(events.some((e) => e.name === 'download.retry')).toBe(true);
      await driver.dispose?.();
    });
  }
});
