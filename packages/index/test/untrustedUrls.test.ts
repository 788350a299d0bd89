import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isStreamsError } from '@streams/core';
import { disposeDrivers } from '@streams/downloader';
import { startHttpServer, type TestHttpServer } from '@streams/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDataset, openJsonlDataset } from '../src/dataset.js';
import { convertDataset } from '../src/datasetConvert.js';
import { openIndexTable } from '../src/indexTable.js';
import { tempDir } from './fixtures.js';

// An index fetched from a remote location is untrusted: it may name remote URLs (its own host or
// others, as LAION-style indexes do) but not local files, unless the user allows their prefix.
let tmp: Awaited<ReturnType<typeof tempDir>>;
let server: TestHttpServer;
let secret: string;
const SECRET = 'the contents of a local file the index must not reach';

beforeAll(async () => {
  tmp = await tempDir();
  const pub = join(tmp.dir, 'pub');
  const priv = join(tmp.dir, 'private');
  await mkdir(join(pub, 'img'), { recursive: true });
  await mkdir(priv, { recursive: true });
  secret = join(priv, 'secret.bin');
  await writeFile(secret, SECRET);
  await writeFile(join(pub, 'img', 'a.bin'), 'public bytes');
  const fileUrl = pathToFileURL(secret).href;
  await writeFile(join(pub, 'index.csv'), `url,label\nimg/a.bin,0\n${fileUrl},1\n`);
  await writeFile(join(pub, 'safe.csv'), `url,label\nimg/a.bin,0\n/img/a.bin,1\n`);
  await writeFile(join(pub, 'a.jsonl'), '{"x":1}\n');
  await writeFile(
    join(pub, 'shards.txt'),
    `a.jsonl\n${pathToFileURL(join(priv, 'b.jsonl')).href}\n`,
  );
  await writeFile(join(priv, 'b.jsonl'), `{"secret":"${SECRET}"}\n`);
  // The same index kept locally may name local files.
  await writeFile(join(priv, 'index.csv'), `url,label\n${fileUrl},1\n`);
  server = await startHttpServer({ root: pub });
});

afterAll(async () => {
  await disposeDrivers();
  await server?.close();
  await tmp?.cleanup();
});

async function failure(p: Promise<unknown>): Promise<Error & { code: string }> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(isStreamsError(e), String(e)).toBe(true);
  return e as Error & { code: string };
}

async function drain(it: AsyncIterable<unknown>): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('URLs named by a remote index', () => {
  it('may be remote (relative ones resolve against the index), never local files', async () => {
    await using safe = await openIndexTable(`${server.url}safe.csv`);
    expect((await drain(safe.rows())).map((r) => (r as { url: string }).url)).toEqual([
      `${server.url}img/a.bin`,
      `${server.url}img/a.bin`,
    ]);
    await using t = await openIndexTable(`${server.url}index.csv`);
    const e = await failure(drain(t.rows()));
    expect(e.code).toBe('STREAMS_UNSAFE_PATH');
    expect(e.message).toMatch(/local/);
    expect(e.message).toMatch(/allowUrls/);
  });

  it('convert copies no local file into its output', async () => {
    const out = join(tmp.dir, 'out-convert');
    const e = await failure(
      convertDataset(`${server.url}index.csv`, {
        out,
        format: 'mds',
        fetchConcurrency: 1,
        open: { format: 'table' },
      }),
    );
    expect(e.code).toBe('STREAMS_UNSAFE_PATH');
    const written = await readdir(out).catch(() => [] as string[]);
    for (const f of written)
      expect((await readFile(join(out, f))).includes(Buffer.from(SECRET))).toBe(false);
  });

  it('list files of shards follow the same rule', async () => {
    const e = await failure(
      openJsonlDataset(`${server.url}shards.txt`).then((ds) => drain(ds.samples())),
    );
    expect(e.code).toBe('STREAMS_UNSAFE_PATH');
  });

  it('an allow-list of prefixes lets them through; local indexes may name anything', async () => {
    const dir = pathToFileURL(join(tmp.dir, 'private')).href;
    await using t = await openIndexTable(`${server.url}index.csv`, { allowUrls: [`${dir}/`] });
    expect((await drain(t.rows())).length).toBe(2);
    await using other = await openIndexTable(`${server.url}index.csv`, {
      allowUrls: [`${dir}-other/`],
    });
    expect((await failure(drain(other.rows()))).code).toBe('STREAMS_UNSAFE_PATH');
    const out = join(tmp.dir, 'out-allowed');
    const r = await convertDataset(`${server.url}index.csv`, {
      out,
      format: 'mds',
      open: { format: 'table', allowUrls: [`${dir}/`] },
    });
    expect(r.samples).toBe(2);
    await using local = await openDataset(join(tmp.dir, 'private', 'index.csv'));
    expect(((await drain(local.samples()))[0] as { url: string }).url).toBe(
      pathToFileURL(secret).href,
    );
  });
});
