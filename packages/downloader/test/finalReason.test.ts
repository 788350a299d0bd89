// A transfer whose every complete body disagrees with the declared size or digest fails with that
// mismatch, even when its last attempt fails for another reason (a reset, a cut body): the
// object is what is wrong, and the message still names the last attempt's failure.
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StreamsError } from '@streams/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFetchEngine } from '../src/fetchEngine.js';

const BODY = Buffer.alloc(1000, 3);
let server: Server;
let base: string;
let out: string;
const hits = new Map<string, number>();

beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'streams-final-reason-'));
  // Every path answers BODY in full, except on its third request, whose socket is reset (and
  // /reset.bin, reset every time).
  server = createServer((req, res) => {
    const n = (hits.get(req.url!) ?? 0) + 1;
    hits.set(req.url!, n);
    if (n === 3 || req.url === '/reset.bin') return void req.socket.destroy();
    res.writeHead(200, { 'content-length': BODY.length });
    res.end(BODY);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(out, { recursive: true, force: true });
});

const engine = () => createFetchEngine({ maxAttempts: 3, backoffBaseMs: 1, backoffMaxMs: 2 });

/** The StreamsError a download fails with (a success or another error fails the test). */
async function failure(p: Promise<unknown>): Promise<StreamsError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof StreamsError) return e;
    throw e;
  }
  throw new Error('the download succeeded');
}

describe('the reason a transfer failed', () => {
  it('is the size mismatch of earlier attempts, not the reset of the last one', async () => {
    const e = await failure(
      engine().download(`${base}/size.bin`, join(out, 'size.bin'), { size: BODY.length + 7 }),
    );
    expect(hits.get('/size.bin')).toBe(3);
    expect(e).toMatchObject({ code: 'STREAMS_SIZE_MISMATCH' });
    expect(e.message).toMatch(/failed after 3 attempts: .*expected 1007 bytes, got 1000/);
    expect(e.message).toMatch(/\(the last attempt: .+\)/);
    expect(e.fix).toMatch(/index size/);
    expect(await readdir(out)).toEqual([]);
  });

  it('is the digest mismatch of earlier attempts, likewise', async () => {
    const digest = createHash('sha256').update('something else').digest('hex');
    const e = await failure(
      engine().download(`${base}/hash.bin`, join(out, 'hash.bin'), {
        hash: { algorithm: 'sha256', digest },
      }),
    );
    expect(hits.get('/hash.bin')).toBe(3);
    expect(e).toMatchObject({ code: 'STREAMS_HASH_MISMATCH' });
    expect(e.message).toMatch(/\(the last attempt: .+\)/);
  });

  it('is the last failure when no attempt saw the body disagree', async () => {
    const e = await failure(
      engine().download(`${base}/reset.bin`, join(out, 'reset.bin'), { size: BODY.length }),
    );
    expect(hits.get('/reset.bin')).toBe(3);
    expect(e).toMatchObject({ code: 'STREAMS_NETWORK' });
    expect(e.message).not.toMatch(/the last attempt/);
  });
});
