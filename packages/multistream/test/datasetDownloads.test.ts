// Named datasets fetched like users expect: the remote layouts of the built-ins served by a real
// node:http server on 127.0.0.1, with small files made here (and Debian's real Fashion-MNIST files
// for that entry), downloaded through @streams/downloader into dataDir.
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { deflateSync, gzipSync } from 'node:zlib';
import { isStreamsError } from '@streams/core';
import { tarMember } from '@streams/index';
import { startFaultProxy, startHttpServer } from '@streams/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DatasetSpec,
  getDatasetSpec,
  loadDataset,
  type RemoteFile,
  registerDataset,
} from '../src/index.js';

const FASHION = '/usr/share/datasets/fashion-mnist';
let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'streams-dl-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Serves `files` (name -> bytes) under `dir`/`sub`, returns RemoteFile entries for them. */
async function publish(dir: string, files: Record<string, Uint8Array>): Promise<RemoteFile[]> {
  await mkdir(dir, { recursive: true });
  const out: RemoteFile[] = [];
  for (const [name, bytes] of Object.entries(files)) {
    await writeFile(join(dir, name), bytes);
    out.push({ name, url: name, size: bytes.length, sha256: sha256(bytes) });
  }
  return out;
}

/** A built-in's spec with the small test files' sizes and digests (same names, layout, loader). */
function withFiles<O>(name: string, files: RemoteFile[]): DatasetSpec<O> {
  return { ...getDatasetSpec<O>(name), files };
}

function idx(dims: number[], data: Uint8Array): Uint8Array {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head.writeUInt32BE(0x0800 + dims.length, 0);
  dims.forEach((d, k) => {
    head.writeUInt32BE(d, 4 + 4 * k);
  });
  return gzipSync(Buffer.concat([head, data]));
}

/** A little-endian Level 5 MAT-file with compressed numeric variables (uint8 data). */
function matFile(vars: Array<{ name: string; cls: number; dims: number[]; data: Uint8Array }>) {
  const pad8 = (b: Buffer) => Buffer.concat([b, Buffer.alloc((8 - (b.length % 8)) % 8)]);
  const el = (type: number, body: Buffer) => {
    const tag = Buffer.alloc(8);
    tag.writeUInt32LE(type, 0);
    tag.writeUInt32LE(body.length, 4);
    return pad8(Buffer.concat([tag, body]));
  };
  const header = Buffer.alloc(128, 0x20);
  header.write('MATLAB 5.0 MAT-file, made by the streams tests', 0);
  header.writeUInt16LE(0x0100, 124);
  header.write('IM', 126);
  const parts = [header];
  for (const v of vars) {
    const flags = Buffer.alloc(8);
    flags[0] = v.cls;
    const dims = Buffer.alloc(4 * v.dims.length);
    v.dims.forEach((d, k) => {
      dims.writeInt32LE(d, 4 * k);
    });
    const matrix = el(
      14,
      Buffer.concat([
        el(6, flags),
        el(5, dims),
        el(1, Buffer.from(v.name)),
        el(2, Buffer.from(v.data)),
      ]),
    );
    const z = deflateSync(matrix);
    const tag = Buffer.alloc(8);
    tag.writeUInt32LE(15, 0);
    tag.writeUInt32LE(z.length, 4);
    parts.push(tag, z);
  }
  return new Uint8Array(Buffer.concat(parts));
}

describe('datasets by name, downloaded into dataDir', () => {
  it("fashion-mnist: Debian's real files served remotely, hash-checked, then read from dataDir", async () => {
    const remote = join(root, 'fashion-remote');
    await mkdir(remote, { recursive: true });
    for (const f of ['t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'])
      await copyFile(join(FASHION, f), join(remote, f));
    await using server = await startHttpServer({ root: remote });
    const dataDir = join(root, 'data-fashion');
    const progress = new PassThrough();
    let log = '';
    progress.on('data', (c) => {
      log += String(c);
    });
    const opts = {
      split: 'test' as const,
      dataDir,
      systemDirs: false,
      baseUrl: server.url,
      progress,
    };
    const ds = await loadDataset('fashion-mnist', opts);
    expect(ds.numSamples).toBe(10_000);
    const counts = new Array(10).fill(0);
    for (const y of ds.y) counts[y]++;
    expect(counts).toEqual(new Array(10).fill(1000));
    expect((await readdir(join(dataDir, 'fashion-mnist'))).sort()).toEqual([
      't10k-images-idx3-ubyte.gz',
      't10k-labels-idx1-ubyte.gz',
    ]);
    expect(log).toMatch(/fashion-mnist: t10k-images-idx3-ubyte\.gz: downloading 4\.2 MiB/);
    expect(log).toMatch(/t10k-images-idx3-ubyte\.gz: 4\.2 MiB in \d+\.\d s/);
    // Same pixels as read straight from the package.
    const direct = await loadDataset('fashion-mnist', {
      split: 'test',
      dataDir: join(root, 'none'),
      download: false,
    });
    expect(ds.x.subarray(0, 784 * 3)).toEqual(direct.x.subarray(0, 784 * 3));
    // A second open reads dataDir: no request.
    const before = server.requests.length;
    await loadDataset('fashion-mnist', { ...opts, progress: false });
    expect(server.requests.length).toBe(before);
  });

  it('mnist and kmnist layouts through STREAMS_DATASETS_MIRROR, resumed after a cut transfer', async () => {
    const n = 12;
    const images = Uint8Array.from({ length: n * 784 }, (_, k) => (k * 7) % 256);
    const labels = Uint8Array.from({ length: n }, (_, i) => i % 10);
    const mirror = join(root, 'mirror');
    const files = {
      'train-images-idx3-ubyte.gz': idx([n, 28, 28], images),
      'train-labels-idx1-ubyte.gz': idx([n], labels),
    };
    const mnistFiles = await publish(join(mirror, 'test-mnist'), files);
    const kmnistFiles = await publish(join(mirror, 'test-kmnist'), files);
    registerDataset('test-mnist', withFiles('mnist', mnistFiles));
    registerDataset('test-kmnist', withFiles('kmnist', kmnistFiles));
    await using server = await startHttpServer({ root: mirror });
    // The first GET of the images is cut mid-body: the engine resumes with a range read.
    await using proxy = await startFaultProxy({
      target: server.url.replace(/\/$/, ''),
      plan: (req, k) => (k === 0 && req.url?.includes('images') ? 'truncate' : undefined),
    });
    process.env.STREAMS_DATASETS_MIRROR = proxy.url;
    try {
      const dataDir = join(root, 'data-mirror');
      const ds = await loadDataset('test-mnist', { dataDir, progress: false });
      expect(ds.numSamples).toBe(n);
      expect([...ds.y]).toEqual([...labels]);
      expect(ds.x[785]).toBeCloseTo(images[785]! / 255, 6);
      expect(proxy.faults.truncate).toBe(1);
      const ranged = proxy.log.filter(
        (r) => r.path.endsWith('images-idx3-ubyte.gz') && r.headers.range,
      );
      expect(ranged.length).toBe(1);
      const k = await loadDataset('test-kmnist', { dataDir, progress: false });
      expect(k.classNames).toHaveLength(10);
      expect([...k.y]).toEqual([...labels]);
    } finally {
      delete process.env.STREAMS_DATASETS_MIRROR;
    }
  });

  it('cifar-10 and cifar-100 (fine and coarse labels) from their binary archives', async () => {
    const pixel = (i: number, c: number) => (i * 31 + c * 101) % 256;
    const record = (labelBytes: number[], i: number) => {
      const r = new Uint8Array(labelBytes.length + 3072);
      r.set(labelBytes);
      for (let c = 0; c < 3; c++)
        for (let q = 0; q < 1024; q++) r[labelBytes.length + c * 1024 + q] = pixel(i, c);
      return r;
    };
    const tarGz = (members: Record<string, Uint8Array>) =>
      gzipSync(
        Buffer.concat([
          ...Object.entries(members).flatMap(([name, data]) => tarMember(name, data)),
          new Uint8Array(1024),
        ]),
      );
    const c10: Record<string, Uint8Array> = {
      'cifar-10-batches-bin/batches.meta.txt': new TextEncoder().encode(
        'airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n',
      ),
    };
    for (let b = 1; b <= 5; b++) c10[`cifar-10-batches-bin/data_batch_${b}.bin`] = record([b], b);
    c10['cifar-10-batches-bin/test_batch.bin'] = record([9], 9);
    const c100 = {
      'cifar-100-binary/train.bin': Buffer.concat([record([3, 42], 0), record([19, 99], 1)]),
      'cifar-100-binary/test.bin': record([0, 1], 2),
      'cifar-100-binary/coarse_label_names.txt': new TextEncoder().encode(
        Array.from({ length: 20 }, (_, k) => `coarse${k}`).join('\n'),
      ),
      'cifar-100-binary/fine_label_names.txt': new TextEncoder().encode(
        Array.from({ length: 100 }, (_, k) => `fine${k}`).join('\n'),
      ),
    };
    const remote = join(root, 'kriz');
    registerDataset(
      'test-cifar-10',
      withFiles('cifar-10', await publish(remote, { 'cifar-10-binary.tar.gz': tarGz(c10) })),
    );
    registerDataset(
      'test-cifar-100',
      withFiles('cifar-100', await publish(remote, { 'cifar-100-binary.tar.gz': tarGz(c100) })),
    );
    await using server = await startHttpServer({ root: remote });
    const base = {
      dataDir: join(root, 'data-cifar'),
      baseUrl: server.url,
      progress: false as const,
    };
    const train = await loadDataset('test-cifar-10', base);
    expect(train.numSamples).toBe(5);
    expect([...train.y]).toEqual([1, 2, 3, 4, 5]);
    expect(train.shape).toEqual([32, 32, 3]);
    // HWC: pixel q of sample 0 (batch 1) has channels (R, G, B) at 3q, 3q+1, 3q+2.
    expect(train.x[0]).toBeCloseTo(pixel(1, 0) / 255, 6);
    expect(train.x[2]).toBeCloseTo(pixel(1, 2) / 255, 6);
    expect(train.classNames?.[9]).toBe('truck');
    expect([...(await loadDataset('test-cifar-10', { ...base, split: 'test' })).y]).toEqual([9]);
    const fine = await loadDataset('test-cifar-100', base);
    expect([...fine.y]).toEqual([42, 99]);
    expect(fine.numClasses).toBe(100);
    expect([...fine.labels!.coarse!]).toEqual([3, 19]);
    const coarse = await loadDataset('test-cifar-100', { ...base, label: 'coarse' });
    expect([...coarse.y]).toEqual([3, 19]);
    expect(coarse.numClasses).toBe(20);
    expect(coarse.classNames?.[19]).toBe('coarse19');
  });

  it('svhn from its MAT-file (column-major, label 10 is digit 0)', async () => {
    const n = 3;
    const X = new Uint8Array(32 * 32 * 3 * n); // column-major [32, 32, 3, n]
    for (let i = 0; i < n; i++)
      for (let c = 0; c < 3; c++)
        for (let w = 0; w < 32; w++)
          for (let h = 0; h < 32; h++)
            X[h + 32 * w + 1024 * c + 3072 * i] = (h + 2 * w + 50 * c + 7 * i) % 256;
    const mat = matFile([
      { name: 'X', cls: 9, dims: [32, 32, 3, n], data: X },
      { name: 'y', cls: 6, dims: [n, 1], data: Uint8Array.of(10, 1, 9) }, // double class, uint8 storage
    ]);
    const remote = join(root, 'housenumbers');
    registerDataset(
      'test-svhn',
      withFiles('svhn', await publish(remote, { 'train_32x32.mat': mat })),
    );
    await using server = await startHttpServer({ root: remote });
    const ds = await loadDataset('test-svhn', {
      dataDir: join(root, 'data-svhn'),
      baseUrl: server.url,
      progress: false,
    });
    expect([...ds.y]).toEqual([0, 1, 9]);
    // Sample 2, row h=3, column w=5, channel 1 (HWC).
    expect(ds.x[2 * 3072 + (3 * 32 + 5) * 3 + 1]).toBeCloseTo(((3 + 10 + 50 + 14) % 256) / 255, 6);
  });

  it('credentials from the standard places, never in messages: per-host bearer and Kaggle', async () => {
    const remote = join(root, 'private');
    const files = await publish(remote, { 'data.bin': new Uint8Array([1, 2, 3]) });
    const load = async (o: { paths: Record<string, string> }) => ({
      name: 'private',
      x: Float32Array.from(await readFile(o.paths['data.bin']!)),
      y: Int32Array.of(0),
      shape: [3],
      numClasses: 1,
      numSamples: 1,
    });
    const info = {
      description: 'private',
      numSamples: 1,
      shape: [3],
      numClasses: 1,
      source: 'test',
    };
    {
      await using server = await startHttpServer({
        root: remote,
        auth: { bearer: 'tok-SECRET-1' },
      });
      registerDataset('test-bearer', { info, files, load });
      const o = {
        dataDir: join(root, 'data-bearer'),
        baseUrl: server.url,
        progress: false as const,
      };
      const refused = await loadDataset('test-bearer', o).catch((e: unknown) => e);
      expect(isStreamsError(refused, 'STREAMS_FORBIDDEN')).toBe(true);
      process.env.STREAMS_HTTP_CREDENTIALS = JSON.stringify({
        [`127.0.0.1:${server.port}`]: { bearer: 'tok-SECRET-1' },
      });
      try {
        expect((await loadDataset('test-bearer', o)).numSamples).toBe(1);
      } finally {
        delete process.env.STREAMS_HTTP_CREDENTIALS;
      }
    }
    {
      await using server = await startHttpServer({
        root: remote,
        auth: { basic: { username: 'kaggler', password: 'KEY-SECRET-2' } },
      });
      registerDataset('test-kaggle', { info, files, load, auth: 'kaggle' });
      const o = {
        dataDir: join(root, 'data-kaggle'),
        baseUrl: server.url,
        progress: false as const,
      };
      const config = join(root, 'kaggle-config');
      await mkdir(config, { recursive: true });
      const saved = { ...process.env };
      process.env.KAGGLE_CONFIG_DIR = config;
      delete process.env.KAGGLE_USERNAME;
      delete process.env.KAGGLE_KEY;
      try {
        const none = await loadDataset('test-kaggle', o).catch((e: unknown) => e);
        expect(isStreamsError(none, 'STREAMS_FORBIDDEN')).toBe(true);
        expect((none as Error).message).toContain('KAGGLE_USERNAME and KAGGLE_KEY');
        await writeFile(
          join(config, 'kaggle.json'),
          JSON.stringify({ username: 'kaggler', key: 'WRONG-SECRET-3' }),
        );
        const wrong = await loadDataset('test-kaggle', o).catch((e: unknown) => e);
        expect(isStreamsError(wrong, 'STREAMS_FORBIDDEN')).toBe(true);
        expect(JSON.stringify({ m: (wrong as Error).message, j: wrong })).not.toContain('SECRET');
        await writeFile(
          join(config, 'kaggle.json'),
          JSON.stringify({ username: 'kaggler', key: 'KEY-SECRET-2' }),
        );
        expect((await loadDataset('test-kaggle', o)).numSamples).toBe(1);
        // The environment wins over the file, as in the Kaggle CLI.
        await rm(join(root, 'data-kaggle'), { recursive: true });
        process.env.KAGGLE_USERNAME = 'kaggler';
        process.env.KAGGLE_KEY = 'KEY-SECRET-2';
        await writeFile(join(config, 'kaggle.json'), '{}');
        expect((await loadDataset('test-kaggle', o)).numSamples).toBe(1);
      } finally {
        process.env = saved;
      }
    }
  });

  it('a wrong digest fails with STREAMS_HASH_MISMATCH and leaves nothing in dataDir', async () => {
    const remote = join(root, 'bad');
    const [file] = await publish(remote, { 'x.bin': new Uint8Array([9, 9, 9]) });
    registerDataset('test-bad', {
      info: { description: 'bad', numSamples: 0, shape: [1], numClasses: 1, source: 'test' },
      files: [{ ...file!, sha256: '0'.repeat(64) }],
      load: async () => {
        throw new Error('never loaded');
      },
    });
    await using server = await startHttpServer({ root: remote });
    const dataDir = join(root, 'data-bad');
    const err = await loadDataset('test-bad', {
      dataDir,
      baseUrl: server.url,
      progress: false,
      fetchOptions: { maxAttempts: 1 },
    }).catch((e: unknown) => e);
    expect(isStreamsError(err, 'STREAMS_HASH_MISMATCH')).toBe(true);
    expect((err as Error).message).toContain(`${server.url}x.bin`);
    const left = await readdir(join(dataDir, 'test-bad')).catch(() => []);
    expect(left).toEqual([]);
  });
});
