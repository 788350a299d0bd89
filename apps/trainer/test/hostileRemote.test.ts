import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isStreamsError } from '@streams/core';
import { createFetchEngine, disposeDrivers, setDefaultEngine } from '@streams/downloader';
import { openDataset } from '@streams/index';
import { StreamingDataset } from '@streams/multistream';
import { type HostileCase, type HostileRemote, startHostileRemote } from '@streams/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/main.js';
import { sink } from './helpers.js';

// The hostile-remote suite: every crafted dataset of the test kit's hostile server, read by every
// entry point. Each must end in a STREAMS_ code (or read cleanly where that is right), never
// request a host the user did not name, never read the local canary file, and stop pulling
// endless answers.
let remote: HostileRemote;
let work: string;

beforeAll(async () => {
  remote = await startHostileRemote();
  work = join(remote.canary.path, '..', 'work');
  // Failures are retried once without long backoffs, so each case ends within seconds.
  setDefaultEngine(createFetchEngine({ maxAttempts: 2, backoffBaseMs: 1, backoffMaxMs: 5 }));
});

afterAll(async () => {
  await disposeDrivers();
  await remote?.close();
});

/** How a run ended, and everything it printed or wrote. */
interface Outcome {
  end: string;
  text: string;
}

async function cli(argv: string[]): Promise<Outcome> {
  const out = sink();
  const err = sink();
  const code = await main(argv, out.stream, err.stream);
  const end =
    code === 0
      ? 'ok'
      : code === 1
        ? (/^streams: (STREAMS_[A-Z_]+):/m.exec(err.text())?.[1] ?? '?')
        : `exit ${code}`;
  return { end, text: `${out.text()}\n${err.text()}` };
}

async function api(run: () => Promise<void>): Promise<Outcome> {
  try {
    await run();
    return { end: 'ok', text: '' };
  } catch (e) {
    if (!isStreamsError(e)) throw e;
    return {
      end: e.code,
      text: `${e.message}\n${String((e.cause as Error | undefined)?.message ?? '')}`,
    };
  }
}

/** Every file's text under a directory (what convert wrote). */
async function written(dir: string): Promise<string> {
  const names = await readdir(dir, { recursive: true }).catch(() => [] as string[]);
  const texts = await Promise.all(
    names.map((n) =>
      readFile(join(dir, String(n))).then(
        (b) => b.toString('latin1'),
        () => '',
      ),
    ),
  );
  return texts.join('\n');
}

type Target = { name: string; run: (c: HostileCase, url: string, k: number) => Promise<Outcome> };

const targets: Target[] = [
  {
    name: 'streams cat',
    run: (c, url) => cli(['cat', url, ...(c.format ? ['--format', c.format] : [])]),
  },
  {
    name: 'streams inspect',
    run: (c, url) => cli(['inspect', url, ...(c.format ? ['--format', c.format] : [])]),
  },
  {
    name: 'streams convert',
    run: async (c, url, k) => {
      const out = join(work, `convert-${k}`);
      const r = await cli([
        'convert',
        url,
        out,
        '--format',
        'mds',
        ...(c.format ? ['--source-format', c.format] : []),
      ]);
      return { end: r.end, text: `${r.text}\n${await written(out)}` };
    },
  },
  {
    name: 'openDataset',
    run: (c, url) =>
      api(async () => {
        await using ds = await openDataset(url, c.format ? { format: c.format } : {});
        for await (const _ of ds.samples()) {
          // drain
        }
      }),
  },
  {
    name: 'StreamingDataset',
    run: (c, url, k) =>
      api(async () => {
        if (!c.mds) throw new Error('not an MDS case');
        await using ds = await StreamingDataset.open({
          remote: url,
          cacheDir: join(work, `cache-${k}`),
          cacheLimit: '64mb',
          world: { rank: 0, worldSize: 1 },
        });
        for await (const _ of ds) {
          // drain
        }
      }),
  },
];

let k = 0;
describe('hostile remote datasets', () => {
  for (const target of targets) {
    describe(target.name, () => {
      it('every case ends in a STREAMS_ code, touches no other host and no local file', async () => {
        for (const c of remote.cases) {
          if (target.name === 'StreamingDataset' && !c.mds) continue;
          const bystander = remote.bystander.requests();
          const before = remote.bytesSent(c.name);
          const r = await target.run(c, `${remote.url}${c.path}`, k++);
          const where = `${target.name} on ${c.name} (${c.attack}) ended ${r.end}: ${r.text.slice(0, 400)}`;
          expect(c.expect, where).toContain(r.end);
          expect(remote.bystander.requests() - bystander, where).toBe(0);
          expect(r.text, where).not.toContain(remote.canary.token);
          expect(r.text, where).not.toMatch(new RegExp(`\\b${remote.canary.size}\\b`));
          if (c.maxBytesSent !== undefined)
            expect(remote.bytesSent(c.name) - before, where).toBeLessThanOrEqual(c.maxBytesSent);
        }
      }, 180_000);
    });
  }

  // Found by this suite: engine.download, given the declared `size`, used to write an endless
  // answer to disk past it (out of the cache budget) before failing.
  it('StreamingDataset stops downloading a shard at its declared size', async () => {
    const c = remote.cases.find((x) => x.name === 'mds-size-lie') as HostileCase;
    const before = remote.bytesSent(c.name);
    const r = await (targets.at(-1) as Target).run(c, `${remote.url}${c.path}`, k++);
    expect(c.expect).toContain(r.end);
    expect(remote.bytesSent(c.name) - before).toBeLessThanOrEqual(c.maxBytesSent as number);
  });

  // Defect 9 of issue 16: the HTTP driver used to append error bodies unredacted.
  it('an error body echoing the signature never reaches the output (defect 9)', async () => {
    const c = remote.cases.find((x) => x.secret !== undefined) as HostileCase;
    const r = await cli(['cat', `${remote.url}${c.path}`]);
    expect(r.end).toBe('STREAMS_FORBIDDEN');
    expect(r.text).not.toContain(c.secret);
  });
});
