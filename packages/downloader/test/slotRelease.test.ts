// A download's concurrency slot covers its request, not the disk work after it. Counted at a
// `node:http` server that holds its responses, with libuv's thread pool (where the file write,
// fsync and close run) held busy by reads of FIFOs that no one writes yet: no timers.
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { type FileHandle, mkdtemp, open, rm } from 'node:fs/promises';
import { createServer, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as tick } from 'node:timers/promises';
import { afterEach, expect, it } from 'vitest';
import { createFetchEngine } from '../src/fetchEngine.js';

/** Threads of libuv's pool in this process. */
const POOL = Number(process.env.UV_THREADPOOL_SIZE) || 4;

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

/** Resolves once `ok()` holds, checked between turns of the event loop. */
async function until(ok: () => boolean): Promise<void> {
  while (!ok()) await tick();
}

it('frees its slot once the body is in, so the next request goes out while the disk is busy', async () => {
  const C = 2;
  const dir = await mkdtemp(join(tmpdir(), 'streams-slots-'));
  // Held responses with the object each asks for (requests may arrive in any order).
  const held: { i: number; res: ServerResponse }[] = [];
  const server = createServer((req, res) => {
    req.resume();
    held.push({ i: Number(/o(\d+)$/.exec(req.url ?? '')?.[1]), res });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const readers: Promise<FileHandle>[] = [];
  const fifos = Array.from({ length: POOL }, (_, k) => join(dir, `fifo${k}`));
  const unjam = async () => {
    // A writer opening a FIFO lets its blocked reader's open finish.
    for (const f of fifos.slice(0, readers.length)) closeSync(openSync(f, 'w'));
    for (const r of readers.splice(0)) await (await r).close();
  };
  cleanup = async () => {
    await unjam();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  };
  const out = join(dir, 'out');
  const engine = createFetchEngine({ concurrency: C, perHost: C, fsync: true });
  const body = (i: number) => `object ${i} `.repeat(100);
  const downloads = Array.from({ length: 2 * C }, (_, i) =>
    engine.download(`${base}/o${i}`, join(out, `o${i}`)),
  );
  await until(() => held.length === C);
  // The first C temp files are open (they open while the request is on its way).
  await until(() => {
    try {
      return readdirSync(out).length === C;
    } catch {
      return false;
    }
  });
  expect(held.length).toBe(C);
  // Every thread of the pool now waits on a FIFO: no file write, fsync or close can finish.
  for (const f of fifos) execFileSync('mkfifo', [f]);
  for (const f of fifos) readers.push(open(f, 'r'));
  for (const { i, res } of held) res.end(body(i));
  // Their bodies are in, their disk work is stuck: the next C requests reach the server anyway.
  await until(() => held.length === 2 * C);
  expect(engine.counters.inFlight).toBe(C);
  await unjam();
  for (const { i, res } of held.slice(C)) res.end(body(i));
  const done = await Promise.all(downloads);
  for (const [i, d] of done.entries()) expect(readFileSync(d.path, 'utf8')).toBe(body(i));
  expect(engine.counters.inFlight).toBe(0);
});
