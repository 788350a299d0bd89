import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startHttpServer } from '@streams/testkit';
import { describe, expect, it } from 'vitest';
import { runRank, tempDir, writeMds } from './fixtures.js';

const worker = fileURLToPath(new URL('./rankWorker.ts', import.meta.url));

/** Rank `rank` of the four-rank job (two nodes of two). */
const runNodeRank = (rank: number, env: Record<string, string>) =>
  runRank(worker, rank, {
    WORLD_SIZE: '4',
    LOCAL_RANK: String(rank % 2),
    LOCAL_WORLD_SIZE: '2',
    ...env,
  });

describe('four real processes, two nodes of two ranks', () => {
  it(
    'cover the epoch exactly once, also when a rank is killed and resumed from its state',
    { timeout: 120_000 },
    async () => {
      const tmp = await tempDir();
      try {
        const data = join(tmp.dir, 'data');
        await writeMds(data, { n: 500, tag: 3, bytes: 64, sizeLimit: 4000 });
        await using server = await startHttpServer({ root: data });
        const common = { REMOTE: server.url };
        const cacheOf = (rank: number) => join(tmp.dir, `node${Math.floor(rank / 2)}-cache`); // one cache per node
        const outOf = (rank: number) => join(tmp.dir, `rank${rank}.json`);
        // Rank 3 is killed (SIGKILL) after 37 samples; the others run to the end.
        await Promise.all(
          [0, 1, 2, 3].map((rank) =>
            runNodeRank(rank, {
              ...common,
              CACHE_DIR: cacheOf(rank),
              OUT: outOf(rank),
              ...(rank === 3 ? { STOP_AFTER: '37' } : {}),
            }),
          ),
        );
        const killed = JSON.parse(await readFile(outOf(3), 'utf8')) as { uids: number[] };
        expect(killed.uids.length).toBe(37);
        // Restart rank 3 from its checkpoint, on the same node cache (its dead pins are reaped).
        await runNodeRank(3, {
          ...common,
          CACHE_DIR: cacheOf(3),
          OUT: join(tmp.dir, 'rank3-resumed.json'),
          RESUME: outOf(3),
        });
        const all: number[] = [];
        for (const f of [outOf(0), outOf(1), outOf(2), join(tmp.dir, 'rank3-resumed.json')]) {
          all.push(...(JSON.parse(await readFile(f, 'utf8')) as { uids: number[] }).uids);
        }
        expect(all.length).toBe(500);
        expect(new Set(all).size).toBe(500);
        // Each node fetched shards into its own cache over HTTP.
        expect(server.requests.filter((r) => r.path.endsWith('.mds')).length).toBeGreaterThan(0);
      } finally {
        await tmp.cleanup();
      }
    },
  );
});
