// WebDataset shard indexes (wids `shardindex.json`): opening reads the JSON only (no tar byte,
// locally or over HTTP), a load checks each tar against the declared count and size, a bad index
// fails with a stable code naming it, and JSON that is not one (MDS index.json, a JSON table)
// still opens as before.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isStreamsError, type StreamsError } from '@streams/core';
import { startHttpServer, type TestHttpServer } from '@streams/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ByteSource } from '../src/byteSource.js';
import { openDataset } from '../src/dataset.js';
import { detectFormat, getFormat } from '../src/formats/registry.js';
import { parseWidsIndex, WIDS_KIND } from '../src/formats/wids.js';
import { MdsWriter } from '../src/mdsWriter.js';
import { RoutingByteSource } from '../src/routingByteSource.js';
import { WdsWriter } from '../src/wdsWriter.js';
import { tempDir } from './fixtures.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let data: string;
let http: TestHttpServer;
const source = new RoutingByteSource();

/** Every URL a real byte source was asked about, by method. */
function recording(inner: ByteSource): { source: ByteSource; calls: string[] } {
  const calls: string[] = [];
  const wrapped = new Proxy(inner, {
    get(target, key, receiver) {
      const v = Reflect.get(target, key, receiver);
      if (typeof v !== 'function' || key === 'close') return v;
      return (url: string, ...rest: unknown[]) => {
        calls.push(`${String(key)} ${url}`);
        return (v as (...a: unknown[]) => unknown).call(target, url, ...rest);
      };
    },
  });
  return { source: wrapped, calls };
}

async function writeWds(dir: string, n: number, perShard: number): Promise<void> {
  const w = new WdsWriter({ out: dir, maxShardSamples: perShard });
  for (let i = 0; i < n; i++)
    await w.write({ __key__: `k${String(i).padStart(4, '0')}`, cls: i, txt: `t${i}` });
  await w.finish();
}

/** Writes `shardindex.json` with these fields into a fresh directory under the data root. */
async function writeIndex(name: string, doc: unknown, raw?: string): Promise<string> {
  const dir = join(data, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'shardindex.json'), raw ?? JSON.stringify(doc));
  return join(dir, 'shardindex.json');
}

const wids = (shardlist: unknown[]) => ({ __kind__: WIDS_KIND, wids_version: 1, shardlist });

beforeAll(async () => {
  tmp = await tempDir('streams-wids-');
  data = join(tmp.dir, 'data');
  await writeWds(join(data, 'ds'), 10, 4); // shards of 4, 4, 2
  http = await startHttpServer({ root: data });
});
afterAll(async () => {
  await source.close();
  await http?.close();
  await tmp?.cleanup();
});

describe('wids shard index', () => {
  it('the WebDataset writer puts a wids index next to its tars, as widsindex create writes it', async () => {
    const doc = JSON.parse(await readFile(join(data, 'ds', 'shardindex.json'), 'utf8'));
    expect(doc.__kind__).toBe('wids-shard-index-v1');
    expect(doc.wids_version).toBe(1);
    expect(
      doc.shardlist.map((s: { url: string; nsamples: number }) => [s.url, s.nsamples]),
    ).toEqual([
      ['shard-000000.tar', 4],
      ['shard-000001.tar', 4],
      ['shard-000002.tar', 2],
    ]);
    for (const s of doc.shardlist) {
      const bytes = await readFile(join(data, 'ds', s.url));
      expect(s.filesize).toBe(bytes.byteLength);
      expect(s.md5sum).toMatch(/^[0-9a-f]{32}$/);
    }
  });

  it('opens locally (file or directory) reading the JSON only: no tar byte, counts known', async () => {
    for (const at of [join(data, 'ds', 'shardindex.json'), join(data, 'ds')]) {
      const { source: counted, calls } = recording(source);
      await using ds = await openDataset(at, { source: counted });
      expect(ds.format).toBe('wids');
      expect(ds.numSamples).toBe(10);
      expect(ds.numShards).toBe(3);
      expect(ds.totalBytes).toBeGreaterThan(0);
      expect(calls.length).toBeGreaterThan(0);
      expect(calls.filter((c) => c.includes('.tar'))).toEqual([]);
      // Reading then goes to the tars, in order.
      const got: unknown[] = [];
      for await (const s of ds.samples()) got.push(s.cls);
      expect(got).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    }
  });

  it('opens over HTTP with zero requests for any tar, then loads through them', async () => {
    const before = http.requests.length;
    await using ds = await openDataset(`${http.url}ds/shardindex.json`);
    expect(ds.format).toBe('wids');
    expect(ds.numSamples).toBe(10);
    const atOpen = http.requests.slice(before);
    expect(atOpen.some((r) => r.path.endsWith('shardindex.json'))).toBe(true);
    expect(atOpen.filter((r) => r.path.includes('.tar'))).toEqual([]);
    const u = await ds.dataset.load(2);
    expect(u.samples).toBe(2);
    expect(u.decode(1).cls).toBe(9);
  });

  it('is told from other JSON by its content: an MDS index.json opens as MDS, a JSON table as a table', async () => {
    const mds = new MdsWriter({ out: join(data, 'mds'), columns: { x: 'int' } });
    await mds.write({ x: 1 });
    await mds.finish();
    expect(await detectFormat(join(data, 'mds', 'index.json'), source)).toBe('mds');
    expect(await detectFormat(join(data, 'mds'), source)).toBe('mds');
    await writeFile(join(data, 'rows.json'), JSON.stringify([{ url: 'a.bin', __kind__: 'x' }]));
    expect(await detectFormat(join(data, 'rows.json'), source)).toBe('table');
    // Any .json name is a wids index when its content says so.
    await writeFile(
      join(data, 'ds', 'other-name.json'),
      await readFile(join(data, 'ds', 'shardindex.json')),
    );
    expect(await detectFormat(join(data, 'ds', 'other-name.json'), source)).toBe('wids');
    expect(await detectFormat(`${http.url}ds/shardindex.json`, source)).toBe('wids');
  });

  it('a tar holding other than the declared samples is STREAMS_SHARD_CORRUPT at load', async () => {
    const doc = JSON.parse(await readFile(join(data, 'ds', 'shardindex.json'), 'utf8'));
    doc.shardlist[1].nsamples = 5;
    for (const s of doc.shardlist) s.url = `x/${s.url}`; // a sub-directory of the index's
    const dir = join(data, 'lying-count');
    await mkdir(join(dir, 'x'), { recursive: true });
    for (const f of ['shard-000000.tar', 'shard-000001.tar', 'shard-000002.tar'])
      await writeFile(join(dir, 'x', f), await readFile(join(data, 'ds', f)));
    await writeFile(join(dir, 'shardindex.json'), JSON.stringify(doc));
    await using ds = await openDataset(join(dir, 'shardindex.json'));
    expect(ds.numSamples).toBe(11); // as declared: nothing was read
    expect((await ds.dataset.load(0)).samples).toBe(4);
    const e = await ds.dataset.load(1).catch((err: StreamsError) => err);
    expect(isStreamsError(e, 'STREAMS_SHARD_CORRUPT'), String(e)).toBe(true);
    expect((e as StreamsError).message).toMatch(/holds 4 samples, shardindex\.json says 5/);
    expect((e as StreamsError).fix).toBeTruthy();
  });

  it('a tar of another size than filesize fails as the size check does, locally and over HTTP', async () => {
    const doc = JSON.parse(await readFile(join(data, 'ds', 'shardindex.json'), 'utf8'));
    doc.shardlist = doc.shardlist.map((s: { filesize: number }) => ({
      ...s,
      filesize: s.filesize + 512,
    }));
    await writeFile(join(data, 'ds', 'bad-size.json'), JSON.stringify(doc));
    for (const at of [join(data, 'ds', 'bad-size.json'), `${http.url}ds/bad-size.json`]) {
      await using ds = await openDataset(at);
      const e = await ds.dataset.load(0).catch((err: StreamsError) => err);
      expect(isStreamsError(e, 'STREAMS_SIZE_MISMATCH'), String(e)).toBe(true);
    }
  });

  const bad: [string, string | undefined, unknown, string, RegExp][] = [
    [
      'not-json',
      '{"__kind__": "wids-shard-index-v1", ',
      undefined,
      'STREAMS_INDEX_INVALID',
      /not JSON/,
    ],
    [
      'wrong-kind',
      undefined,
      { ...wids([{ url: 'a.tar', nsamples: 1 }]), __kind__: 'wids-v0' },
      'STREAMS_INDEX_INVALID',
      /__kind__ is "wids-v0"/,
    ],
    [
      'no-kind',
      undefined,
      { wids_version: 1, shardlist: [{ url: 'a.tar', nsamples: 1 }] },
      'STREAMS_INDEX_INVALID',
      /__kind__/,
    ],
    [
      'version',
      undefined,
      { ...wids([{ url: 'a.tar', nsamples: 1 }]), wids_version: 2 },
      'STREAMS_INDEX_INVALID',
      /wids_version is 2/,
    ],
    [
      'negative',
      undefined,
      wids([{ url: 'a.tar', nsamples: -1 }]),
      'STREAMS_INDEX_INVALID',
      /shardlist\[0\]\.nsamples is -1/,
    ],
    [
      'fraction',
      undefined,
      wids([
        { url: 'a.tar', nsamples: 1 },
        { url: 'b.tar', nsamples: 2.5 },
      ]),
      'STREAMS_INDEX_INVALID',
      /shardlist\[1\]\.nsamples is 2\.5/,
    ],
    [
      'string-count',
      undefined,
      wids([{ url: 'a.tar', nsamples: '3' }]),
      'STREAMS_INDEX_INVALID',
      /nsamples is "3"/,
    ],
    [
      'bad-size',
      undefined,
      wids([{ url: 'a.tar', nsamples: 3, filesize: -4 }]),
      'STREAMS_INDEX_INVALID',
      /filesize is -4/,
    ],
    [
      'no-url',
      undefined,
      wids([{ nsamples: 3 }]),
      'STREAMS_INDEX_INVALID',
      /shardlist\[0\] needs a "url"/,
    ],
    ['empty', undefined, wids([]), 'STREAMS_INDEX_INVALID', /shardlist is empty/],
    [
      'escape',
      undefined,
      wids([{ url: '../ds/shard-000000.tar', nsamples: 4 }]),
      'STREAMS_UNSAFE_PATH',
      /goes up with "\.\."/,
    ],
    [
      'escape-encoded',
      undefined,
      wids([{ url: 'a/%2e%2e/%2e%2e/x.tar', nsamples: 4 }]),
      'STREAMS_UNSAFE_PATH',
      /\.\./,
    ],
    [
      'sub-datasets',
      undefined,
      { ...wids([{ url: 'a.tar', nsamples: 1 }]), datasets: [] },
      'STREAMS_NOT_IMPLEMENTED',
      /sub-datasets/,
    ],
  ];
  for (const [name, raw, doc, code, message] of bad)
    it(`${name}: ${code} naming the index, with a fix, locally and over HTTP`, async () => {
      const local = await writeIndex(name, doc, raw);
      // A signed query must not reach the message.
      for (const at of [local, `${http.url}${name}/shardindex.json?X-Amz-Signature=s3cr3t`]) {
        const e = await getFormat('wids')
          .open(at, { source })
          .catch((err: unknown) => err);
        expect(isStreamsError(e, code as StreamsError['code']), String(e)).toBe(true);
        const err = e as StreamsError;
        expect(err.message).toMatch(message);
        expect(err.url).toContain(`${name}/shardindex.json`);
        expect(err.fix).toBeTruthy();
        expect(err.message).not.toContain('s3cr3t');
        expect(err.url).not.toContain('s3cr3t');
      }
    });

  it('a remote index may name remote tars (absolute URLs) but not local files; a local one may', async () => {
    const tar = join(data, 'ds', 'shard-000000.tar');
    const local = await writeIndex('abs-local', wids([{ url: tar, nsamples: 4 }]));
    await using ds = await openDataset(local);
    expect(ds.numSamples).toBe(4);
    for (const url of [tar, `file://${tar}`]) {
      await writeIndex('abs-remote', wids([{ url, nsamples: 4 }]));
      const e = await openDataset(`${http.url}abs-remote/shardindex.json`).catch((err) => err);
      expect(isStreamsError(e, 'STREAMS_UNSAFE_PATH'), String(e)).toBe(true);
    }
    const remoteTar = `${http.url}ds/shard-000001.tar`;
    const mixed = await writeIndex('abs-http', wids([{ url: remoteTar, nsamples: 4 }]));
    await using fromLocal = await openDataset(mixed);
    expect((await fromLocal.dataset.load(0)).decode(0).cls).toBe(4);
    await using fromRemote = await openDataset(`${http.url}abs-http/shardindex.json`);
    expect(fromRemote.numSamples).toBe(4);
  });

  it('parseWidsIndex resolves relative URLs against the index directory, sub-directories too', () => {
    const units = parseWidsIndex(
      new TextEncoder().encode(
        JSON.stringify(
          wids([
            { url: 'sub/a.tar', nsamples: 2, filesize: 1024 },
            { url: './b.tar', nsamples: 0 },
          ]),
        ),
      ),
      'https://host/data/shardindex.json',
    );
    expect(units.map((u) => [u.name, u.samples, u.bytes, u.files[0]?.url])).toEqual([
      ['a.tar', 2, 1024, 'https://host/data/sub/a.tar'],
      ['b.tar', 0, undefined, 'https://host/data/b.tar'],
    ]);
  });

  it('a WebDataset directory without the index is still counted from its tars', async () => {
    await writeWds(join(data, 'plain'), 5, 2);
    await rm(join(data, 'plain', 'shardindex.json'));
    await using ds = await openDataset(join(data, 'plain'));
    expect(ds.format).toBe('wds');
    expect(ds.numSamples).toBeUndefined();
    expect(await ds.dataset.count()).toBe(5);
  });
});

describe('wids shard index: validateHashes checks the md5sum it lists', () => {
  it('passes intact tars, fails a damaged one of the same size, locally and over HTTP', async () => {
    const dir = join(data, 'hashed');
    await writeWds(dir, 6, 3);
    const tar = join(dir, 'shard-000001.tar');
    const bytes = await readFile(tar);
    for (const at of [join(dir, 'shardindex.json'), `${http.url}hashed/shardindex.json`]) {
      await using ok = await openDataset(at, { validateHashes: true });
      expect((await ok.dataset.load(1)).samples).toBe(3);
    }
    bytes[600] = bytes[600]! ^ 0xff; // inside the first member's data: same size, same samples
    await writeFile(tar, bytes);
    for (const at of [join(dir, 'shardindex.json'), `${http.url}hashed/shardindex.json`]) {
      await using ds = await openDataset(at, { validateHashes: 'md5' });
      expect((await ds.dataset.load(0)).samples).toBe(3);
      const e = await ds.dataset.load(1).catch((err: StreamsError) => err);
      expect(isStreamsError(e, 'STREAMS_HASH_MISMATCH'), String(e)).toBe(true);
      // Without validateHashes the damage goes unseen: the check is what caught it.
      await using unchecked = await openDataset(at);
      expect((await unchecked.dataset.load(1)).samples).toBe(3);
    }
  });

  it('an index without digests, or without the one asked for, is STREAMS_INVALID_ARGUMENT at load', async () => {
    const index = await writeIndex(
      'no-hash',
      wids([{ url: join(data, 'ds', 'shard-000000.tar'), nsamples: 4 }]),
    );
    for (const validateHashes of [true, 'sha1'] as const) {
      await using ds = await openDataset(index, { validateHashes });
      const e = await ds.dataset.load(0).catch((err: StreamsError) => err);
      expect(isStreamsError(e, 'STREAMS_INVALID_ARGUMENT'), String(e)).toBe(true);
    }
  });
});
