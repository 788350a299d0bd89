import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isAbortError } from '@streams/core';
import { startFaultProxy, startHttpServer } from '@streams/testkit';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamingDataset } from '../src/index.js';
import { tempDir, writeMds } from './fixtures.js';

type Sample = { uid: number; payload: Uint8Array };

/** Resolves with what `p` settled to, or rejects when it has not settled within `ms`: a hang detector, not a timing claim. */
async function settles<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not return within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, hang]);
  } finally {
    clearTimeout(timer);
  }
}

const N = 400; // samples: 20 shards of 20 samples of ~4 KiB (~1.6 MB)

describe('close() after any way out of an iteration', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let local: string;
  let server: Awaited<ReturnType<typeof startHttpServer>>;
  let proxy: Awaited<ReturnType<typeof startFaultProxy>>;
  beforeAll(async () => {
    tmp = await tempDir();
    local = join(tmp.dir, 'data');
    await writeMds(local, { n: N, tag: 1, bytes: 4000, sizeLimit: 80_000 });
    server = await startHttpServer({ root: tmp.dir });
    // Every shard trickles in, so transfers are in flight whenever the consumer leaves.
    proxy = await startFaultProxy({
      target: server.url.replace(/\/$/, ''),
      rate: 1,
      kinds: ['drip'],
      dripDelayMs: 1,
    });
  });
  afterAll(async () => {
    await proxy?.close();
    await server?.close();
    await tmp?.cleanup();
  });

  const open = (o: {
    where: 'local' | 'remote';
    budget: 'below' | 'above';
    cacheDir: string;
    signal?: AbortSignal;
    transform: boolean;
  }) =>
    StreamingDataset.open<Sample>({
      ...(o.where === 'local' ? { local } : { remote: `${proxy.url}/data` }),
      cacheDir: o.cacheDir,
      // Below: a fraction of the 1.6 MB data, so loads queue behind the budget gate.
      cacheLimit: o.budget === 'below' ? 300_000 : '1gb',
      predownload: 200,
      world: { rank: 0, worldSize: 1 },
      signal: o.signal,
      ...(o.transform ? { transform: async (s) => s as Sample } : {}),
    });

  it('returns for break, throw and abort, local and remote, budgets below and above the data', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<'local' | 'remote'>('local', 'remote'),
        fc.constantFrom<'below' | 'above'>('below', 'above'),
        fc.constantFrom<'break' | 'throw' | 'abort'>('break', 'throw', 'abort'),
        fc.integer({ min: 0, max: N - 1 }),
        fc.boolean(),
        async (where, budget, way, breakAt, transform) => {
          const ac = new AbortController();
          const ds = await open({
            where,
            budget,
            cacheDir: join(tmp.dir, `cache-${run++}`),
            signal: ac.signal,
            transform,
          });
          let seen = 0;
          try {
            for await (const s of ds) {
              expect(s.uid).toBeGreaterThanOrEqual(1e6);
              if (seen++ < breakAt) continue;
              if (way === 'break') break;
              if (way === 'throw') throw new Error('the consumer gave up');
              ac.abort();
            }
            expect(way).toBe('break');
          } catch (e) {
            if (way === 'throw') expect((e as Error).message).toBe('the consumer gave up');
            else expect(isAbortError(e)).toBe(true);
          }
          await settles(
            ds.close(),
            20_000,
            `close() after ${way} at ${breakAt} (${where}, ${budget})`,
          );
        },
      ),
      { numRuns: 24, seed: 16 },
    );
  }, 240_000);

  it('disposes under `await using` and shows the consumer its own error', async () => {
    for (const budget of ['below', 'above'] as const) {
      const thrown = new Error('shown to the consumer');
      let disposed: StreamingDataset<Sample> | undefined;
      const run = async () => {
        await using ds = await open({
          where: 'remote',
          budget,
          cacheDir: join(tmp.dir, `cache-using-${budget}`),
          transform: false,
        });
        disposed = ds;
        for await (const _ of ds) throw thrown;
      };
      await expect(settles(run(), 20_000, `await using (${budget})`)).rejects.toBe(thrown);
      // Disposed: a closed dataset refuses to iterate.
      await expect(disposed![Symbol.asyncIterator]().next()).rejects.toThrow(/closed/);
    }
  }, 60_000);

  it('closes when a process signal aborts the iteration of a real process', async () => {
    const worker = fileURLToPath(new URL('./signalWorker.ts', import.meta.url));
    const child = spawn(
      process.execPath,
      ['--conditions=@streams/source', '--import', 'tsx', worker],
      {
        env: {
          ...process.env,
          REMOTE: `${proxy.url}/data`,
          CACHE_DIR: join(tmp.dir, 'cache-signal'),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stderr.on('data', (d) => {
      err += String(d);
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d) => {
        out += String(d);
        if (out.includes('reading\n')) resolve();
      });
      child.on('exit', () => reject(new Error(`the worker exited before reading: ${out}${err}`)));
    });
    child.kill('SIGTERM');
    const code = await settles(exited, 30_000, 'the signalled process');
    expect({ code, out }).toEqual({ code: 0, out: 'reading\nAbortError\nclosed\n' });
  }, 90_000);
});
