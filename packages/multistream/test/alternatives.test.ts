// Index-table streams with alternative URL columns (e.g. one of several captions per row): the
// choice is made per row by the seeded generator before anything is downloaded, so only the chosen
// file is fetched; it is the same for the same seed whatever the world size, and a new process
// resumed at an epoch gives the choices an uninterrupted run gives.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startHttpServer, type TestHttpServer } from '@streams/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamingDataset } from '../src/streamingDataset.js';
import { payloadOf, tempDir } from './fixtures.js';

const ROWS = 120;
const CAPTIONS = ['cap_a', 'cap_b', 'cap_c'] as const;
let tmp: Awaited<ReturnType<typeof tempDir>>;
let server: TestHttpServer;

beforeAll(async () => {
  tmp = await tempDir();
  const www = join(tmp.dir, 'www');
  await mkdir(join(www, 'files'), { recursive: true });
  const lines = [`uid,image,${CAPTIONS.join(',')}`];
  for (let uid = 0; uid < ROWS; uid++) {
    await writeFile(join(www, 'files', `img-${uid}.bin`), payloadOf(uid, 32));
    for (const c of CAPTIONS) await writeFile(join(www, 'files', `${c}-${uid}.txt`), `${c}:${uid}`);
    lines.push(
      `${uid},files/img-${uid}.bin,${CAPTIONS.map((c) => `files/${c}-${uid}.txt`).join(',')}`,
    );
  }
  await writeFile(join(www, 'index.csv'), `${lines.join('\n')}\n`);
  server = await startHttpServer({ root: www });
});

afterAll(async () => {
  await server.close();
  await tmp.cleanup();
});

let caches = 0;
const open = (seed: number, extra: { world?: { rank: number; worldSize: number } } = {}) =>
  StreamingDataset.open({
    remote: `${server.url}index.csv`,
    format: 'table',
    urlColumns: ['image', ...CAPTIONS],
    alternatives: { caption: [...CAPTIONS] },
    cacheDir: join(tmp.dir, `cache-${caches++}`),
    seed,
    ...extra,
  });

/** One epoch's caption choice per uid, each sample checked against the file of its choice. */
async function choices(ds: StreamingDataset): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  for await (const s of ds) {
    const uid = s.uid as number;
    const chosen = (s.__chosen__ as Record<string, string>).caption!;
    expect(CAPTIONS).toContain(chosen);
    expect(new TextDecoder().decode(s.caption as Uint8Array)).toBe(`${chosen}:${uid}`);
    expect(s.image).toEqual(payloadOf(uid, 32));
    for (const c of CAPTIONS) expect(s[c]).toBeUndefined(); // the unchosen cells are gone
    out.set(uid, chosen);
  }
  return out;
}

const captionGets = (since: number) =>
  server.requests
    .slice(since)
    .filter((r) => r.method === 'GET' && /\/files\/cap_/.test(r.path))
    .map((r) => r.path);

describe('alternative URL columns', () => {
  it('fetch only the seeded choice of each row, the same for the same seed', async () => {
    const mark = server.requests.length;
    await using ds = await open(11);
    const first = await choices(ds);
    expect(first.size).toBe(ROWS);
    // One request per row, for the chosen caption only.
    const gets = captionGets(mark);
    expect(gets.length).toBe(ROWS);
    expect(new Set(gets)).toEqual(new Set([...first].map(([uid, c]) => `/files/${c}-${uid}.txt`)));
    // Every column gets chosen (about a third each).
    for (const c of CAPTIONS)
      expect([...first.values()].filter((v) => v === c).length).toBeGreaterThan(20);
    await using again = await open(11);
    expect(await choices(again)).toEqual(first);
    await using other = await open(12);
    const second = await choices(other);
    expect([...second].some(([uid, c]) => first.get(uid) !== c)).toBe(true);
  });

  it('the choice does not depend on the world size', async () => {
    await using whole = await open(5);
    const one = await choices(whole);
    const union = new Map<number, string>();
    for (let rank = 0; rank < 2; rank++) {
      await using part = await open(5, { world: { rank, worldSize: 2 } });
      for (const [uid, c] of await choices(part)) union.set(uid, c);
    }
    expect(union).toEqual(one);
  });

  it('a dataset resumed at epoch 1 makes the choices of an uninterrupted run', async () => {
    await using run = await open(9);
    const epoch0 = await choices(run);
    const epoch1 = await choices(run);
    expect(run.epoch).toBe(2);
    // New choices each epoch (augmentation), not the first epoch's again.
    expect([...epoch1].some(([uid, c]) => epoch0.get(uid) !== c)).toBe(true);
    await using resumed = await open(9);
    resumed.setEpoch(1);
    expect(await choices(resumed)).toEqual(epoch1);
  });
});
