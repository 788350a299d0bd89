import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { disposeDrivers, s3Driver } from '@streams/downloader';
import { startHttpServer, startS3Server } from '@streams/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { runCat } from '../src/catCommand.js';
import { runInspect } from '../src/inspectCommand.js';
import { expected, PLAIN, REF, sink, tempDir } from './helpers.js';

afterAll(() => disposeDrivers());

describe('streams cat on remote datasets', () => {
  it('reads the reference dataset from s3:// on s3rver with --endpoint', async () => {
    await using s3 = await startS3Server({ buckets: ['data'] });
    const env = { ...process.env };
    process.env.AWS_ACCESS_KEY_ID = s3.credentials.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = s3.credentials.secretAccessKey;
    process.env.AWS_REGION = s3.region;
    try {
      const put = s3Driver({
        endpoint: s3.endpoint,
        forcePathStyle: true,
        credentials: s3.credentials,
        region: s3.region,
      });
      for (const name of await readdir(PLAIN))
        await put.put(`s3://data/plain/${name}`, new Uint8Array(await readFile(join(PLAIN, name))));
      await put.dispose?.();
      const out = sink();
      const code = await runCat(
        ['s3://data/plain'],
        { endpoint: s3.endpoint, offset: 995 },
        { out: out.stream, err: sink().stream },
      );
      expect(code).toBe(0);
      const lines = out
        .text()
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(lines).toEqual((await expected()).slice(995));
    } finally {
      process.env = env;
    }
  }, 60_000);

  it('reads it over http:// from a node:http server', async () => {
    const { createServer } = await import('node:http');
    const server = createServer(async (req, res) => {
      const name = (req.url ?? '').replace(/^\/plain\//, '');
      try {
        const bytes = await readFile(join(PLAIN, name));
        const m = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '');
        if (m) {
          const [a, b] = [Number(m[1]), Math.min(Number(m[2]), bytes.length - 1)];
          res.writeHead(206, {
            'content-range': `bytes ${a}-${b}/${bytes.length}`,
            'content-length': b - a + 1,
          });
          res.end(bytes.subarray(a, b + 1));
        } else {
          res.writeHead(200, { 'content-length': bytes.length });
          res.end(req.method === 'HEAD' ? undefined : bytes);
        }
      } catch {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    try {
      const { port } = server.address() as { port: number };
      const out = sink();
      await runCat(
        [`http://127.0.0.1:${port}/plain`],
        { limit: 3 },
        { out: out.stream, err: sink().stream },
      );
      expect(
        out
          .text()
          .trimEnd()
          .split('\n')
          .map((l) => JSON.parse(l)),
      ).toEqual((await expected()).slice(0, 3));
    } finally {
      await new Promise((ok) => server.close(ok));
    }
  }, 60_000);

  it('reads through the node cache: a second cat and an inspect of the same dataset download nothing', async () => {
    await using tmp = await tempDir();
    await using http = await startHttpServer({ root: REF });
    const flags = { 'cache-dir': join(tmp.dir, 'cache') };
    const cat = async () => {
      const out = sink();
      await runCat([`${http.url}plain`], flags, { out: out.stream, err: sink().stream });
      return out.text().trimEnd().split('\n').length;
    };
    const all = (await expected()).length;
    expect(await cat()).toBe(all);
    const first = http.requests.length;
    expect(http.requests.filter((q) => q.method === 'GET').length).toBeGreaterThan(1);
    expect(await cat()).toBe(all);
    const out = sink();
    await runInspect(
      [`${http.url}plain`],
      { ...flags, json: true },
      { out: out.stream, err: sink().stream },
    );
    expect(JSON.parse(out.text()).count).toBe(all);
    expect(http.requests.slice(first)).toEqual([]);
    expect(await readdir(join(tmp.dir, 'cache'))).not.toEqual([]);
  }, 60_000);
});
