import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startFaultProxy, startS3Server } from '@streams/testkit';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/configLoad.js';
import { readRun } from '../src/runResults.js';
import { cliArgs, tempDir } from './helpers.js';

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
        /writing mnist \(upright\) as MDS shards into s3:\/\/streams-demo\/data\//,
      );
      expect(stdout).toMatch(/report: /);
      const r = await readRun(run);
      expect(r.run.evals).toEqual(['upright', 'rotated']);
      expect(r.learners.map((l) => l.matrix.rows.length)).toEqual([3, 3]);
      for (const l of r.learners) expect(l.summary.averageAccuracy).toBeGreaterThan(0.5);
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
});
