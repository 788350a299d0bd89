// Issue 16, defect 8: engine.read resumes a body cut mid-way with a range read of the rest, as
// engine.download does, instead of starting again from byte 0 on every attempt.

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFetchEngine, type FetchEngineOptions } from '../src/fetchEngine.js';
import { testBytes } from './driverSuite.js';

const EVERY = 400 << 10; // the link resets after this many body bytes of each response
const data = testBytes((1200 << 10) + 77, 16); // [1.2 MiB + 77]
const FAST: FetchEngineOptions = { seed: 3, backoffBaseMs: 1, backoffMaxMs: 5, maxAttempts: 12 };
let server: Server;
let url: string;
let out: string;
/** The Range header of every GET, in order. */
const ranges: Array<string | undefined> = [];

beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'streams-read-resume-'));
  server = createServer((req, res) => {
    const m = /^bytes=(\d+)-(\d+)?$/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    const end = m?.[2] ? Number(m[2]) : data.byteLength - 1;
    const body = data.subarray(start, end + 1);
    res.writeHead(m ? 206 : 200, {
      'content-length': body.byteLength,
      etag: '"v1"',
      'accept-ranges': 'bytes',
      ...(m ? { 'content-range': `bytes ${start}-${end}/${data.byteLength}` } : {}),
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    ranges.push(req.headers.range);
    if (body.byteLength <= EVERY) res.end(body);
    else res.write(body.subarray(0, EVERY), () => res.socket?.resetAndDestroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/object.bin`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(out, { recursive: true, force: true });
});

/** The start of each Range header; the first request of a whole read has none. */
const starts = (rs: Array<string | undefined>) =>
  rs.map((r) => (r === undefined ? undefined : Number(/^bytes=(\d+)-/.exec(r)?.[1])));

describe('over a link that resets every 400 KB', () => {
  it('engine.read succeeds by resuming, as engine.download does', async () => {
    const engine = createFetchEngine(FAST);
    ranges.length = 0;
    const bytes = await engine.read(url);
    expect(Buffer.from(bytes).equals(Buffer.from(data))).toBe(true);
    const readStarts = starts(ranges);
    expect(readStarts[0]).toBeUndefined();
    // Every later attempt asks only for what is missing: its start moves forward, never to 0.
    const later = readStarts.slice(1) as number[];
    expect(later.length).toBeGreaterThanOrEqual(3);
    for (let i = 0; i < later.length; i++)
      expect(later[i]).toBeGreaterThan(i === 0 ? 0 : later[i - 1]!);

    ranges.length = 0;
    const r = await engine.download(url, join(out, 'object.bin'));
    expect((await readFile(r.path)).equals(Buffer.from(data))).toBe(true);
    expect(starts(ranges)[0]).toBeUndefined();
    expect((starts(ranges).slice(1) as number[]).every((s) => s > 0)).toBe(true);
  });

  it('a ranged read resumes inside its range', async () => {
    const engine = createFetchEngine(FAST);
    ranges.length = 0;
    const offset = 1000;
    const length = 1000 << 10;
    const bytes = await engine.read(url, { offset, length });
    expect(Buffer.from(bytes).equals(Buffer.from(data.subarray(offset, offset + length)))).toBe(
      true,
    );
    const readStarts = starts(ranges) as number[];
    expect(readStarts[0]).toBe(offset);
    expect(readStarts.length).toBeGreaterThanOrEqual(3);
    expect(ranges.at(-1)).toMatch(new RegExp(`-${offset + length - 1}$`)); // never past the range
  });

  it('without resume, every attempt starts over and the read fails after maxAttempts', async () => {
    const engine = createFetchEngine({ ...FAST, maxAttempts: 4, resume: false });
    ranges.length = 0;
    await expect(engine.read(url)).rejects.toMatchObject({
      code: 'STREAMS_NETWORK',
      message: expect.stringContaining('after 4 attempts'),
    });
    expect(ranges).toEqual([undefined, undefined, undefined, undefined]);
  });
});
