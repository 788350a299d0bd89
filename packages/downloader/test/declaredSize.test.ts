// A body longer than the size the caller declared (a lying index, a changed object) is cut off at
// the first chunk past the size: an endless answer never reaches the disk or memory whole.

import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFetchEngine } from '../src/fetchEngine.js';

const CHUNK = 64 << 10;
const CAP = 64 << 20; // the server gives up after this much, so a failing test still ends
let server: Server;
let url: string;
let out: string;
let sent = 0;

beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'streams-declared-size-'));
  // No content-length: a chunked body that goes on until the client stops reading.
  server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    const chunk = Buffer.alloc(CHUNK, 7);
    let mine = 0;
    const pump = () => {
      while (mine < CAP) {
        mine += CHUNK;
        sent += CHUNK;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    res.on('close', () => {
      mine = CAP;
    });
    pump();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/endless.bin`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(out, { recursive: true, force: true });
});

const engine = () => createFetchEngine({ maxAttempts: 2, backoffBaseMs: 1, backoffMaxMs: 2 });

describe('a body longer than the declared size', () => {
  it('engine.download stops reading past the size and leaves no file', async () => {
    sent = 0;
    const dest = join(out, 'shard.bin');
    await expect(engine().download(url, dest, { size: 24 })).rejects.toMatchObject({
      code: 'STREAMS_SIZE_MISMATCH',
      message: expect.stringContaining('expected 24 bytes, got at least'),
    });
    // Two attempts, each cut after the first chunks the socket had buffered: far below the cap.
    expect(sent).toBeLessThan(CAP / 4);
    expect(await readdir(out)).toEqual([]);
  });

  it('engine.read of a whole object with an expected size stops reading past it', async () => {
    sent = 0;
    await expect(engine().read(url, { expectedSize: 24 })).rejects.toMatchObject({
      code: 'STREAMS_SIZE_MISMATCH',
      message: expect.stringContaining('expected 24 bytes, got at least'),
    });
    expect(sent).toBeLessThan(CAP / 4);
  });

  it('engine.read of a range stops reading once the range is in, when the server ignores Range', async () => {
    sent = 0;
    const bytes = await engine().read(url, { offset: 100, length: 24 });
    expect(new Uint8Array(bytes)).toEqual(new Uint8Array(24).fill(7));
    expect(sent).toBeLessThan(CAP / 4);
  });
});
