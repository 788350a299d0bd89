import { execSync } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { mkdir as mk, mkdir, mkdtemp, rm, writeFile as wf } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startHttpServer, startS3Server } from '@streams/testkit';
import { httpDriver } from '../src/drivers/http.js';
import { s3Driver } from '../src/drivers/s3.js';
import { createFetchEngine } from '../src/fetchEngine.js';

const N = Number(process.env.N ?? 2000);
const C = 16;
const ticks = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * 10; // ms
};
async function pool(n: number, c: number, task: (i: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: c }, async () => {
      while (next < n) await task(next++);
    }),
  );
}
const work = await mkdtemp(join(process.env.DIR ?? tmpdir(), 'prof-'));
await using s3 = await startS3Server({ buckets: ['b'] });
const up = s3Driver({ endpoint: s3.endpoint, credentials: s3.credentials, region: s3.region });
const data = Buffer.alloc(16384, 7);
if (!process.env.NOS3)
  await pool(N, 32, async (i) => {
    await up.put(`s3://b/k/${i}`, data);
  });
const client = new S3Client({
  endpoint: s3.endpoint,
  forcePathStyle: true,
  region: s3.region,
  credentials: s3.credentials,
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
});
const driver = s3Driver({ endpoint: s3.endpoint, credentials: s3.credentials, region: s3.region });

import { createHash, createHmac } from 'node:crypto';
import http from 'node:http';

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const EMPTY = createHash('sha256').update('').digest('hex');
let kcache: { day: string; key: Buffer } | undefined;
const enc = (s: string) =>
  encodeURIComponent(s).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
function leanGet(bucket: string, key: string): Promise<http.IncomingMessage> {
  const u = new URL(s3.endpoint);
  const path = `/${bucket}/${key.split('/').map(enc).join('/')}`;
  const amz = new Date().toISOString().replace(/[-:]|\.\d{3}/g, '');
  const day = amz.slice(0, 8);
  const host = u.host;
  const canon = `GET\n${path}\n\nhost:${host}\nx-amz-content-sha256:${EMPTY}\nx-amz-date:${amz}\n\nhost;x-amz-content-sha256;x-amz-date\n${EMPTY}`;
  const scope = `${day}/us-east-1/s3/aws4_request`;
  const sts = `AWS4-HMAC-SHA256\n${amz}\n${scope}\n${createHash('sha256').update(canon).digest('hex')}`;
  if (kcache?.day !== day) {
    let k = createHmac('sha256', 'AWS4S3RVER').update(day).digest();
    for (const p of ['us-east-1', 's3', 'aws4_request'])
      k = createHmac('sha256', k).update(p).digest();
    kcache = { day, key: k };
  }
  const sig = createHmac('sha256', kcache.key).update(sts).digest('hex');
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        path,
        agent,
        headers: {
          host,
          'x-amz-content-sha256': EMPTY,
          'x-amz-date': amz,
          authorization: `AWS4-HMAC-SHA256 Credential=S3RVER/${scope}, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=${sig}`,
        },
      },
      (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`HTTP ${res.statusCode}`));
          res.resume();
          return;
        }
        resolve(res);
      },
    );
    req.on('error', reject);
    req.end();
  });
}
const hroot = join(work, 'root');
await mk(join(hroot, 'k'), { recursive: true });
for (let i = 0; i < N; i++) await wf(join(hroot, 'k', `${i}`), data);
await using hs = await startHttpServer({ root: hroot });
const hd = httpDriver();
const modes: Record<string, (dir: string) => Promise<void>> = {
  raw: (dir) =>
    pool(N, C, async (i) => {
      const res = await client.send(new GetObjectCommand({ Bucket: 'b', Key: `k/${i}` }));
      await pipeline(res.Body as Readable, createWriteStream(join(dir, `${i}`)));
    }),
  driver: (dir) =>
    pool(N, C, async (i) => {
      const body = await driver.get(`s3://b/k/${i}`);
      await pipeline(body.takeReadable!()!, createWriteStream(join(dir, `${i}`)));
    }),
  lean: (dir) =>
    pool(N, C, async (i) => {
      const res = await leanGet('b', `k/${i}`);
      await pipeline(res, createWriteStream(join(dir, `${i}`)));
    }),
  rawhttp: (dir) =>
    pool(N, C, async (i) => {
      const res = await fetch(`${hs.url}k/${i}`);
      await pipeline(Readable.fromWeb(res.body as any), createWriteStream(join(dir, `${i}`)));
    }),
  nodehttp: (dir) =>
    pool(N, C, async (i) => {
      const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
        const req = http.request(
          `${hs.url}k/${i}`,
          { agent, headers: { 'accept-encoding': 'identity' } },
          resolve,
        );
        req.on('error', reject);
        req.end();
      });
      await pipeline(res, createWriteStream(join(dir, `${i}`)));
    }),
  enginehttp: async (dir) => {
    const engine = createFetchEngine({
      concurrency: C,
      perHost: C,
      seed: 1,
      driverFor: () => hd,
      fsync: false,
    });
    const q = engine.prefetch({ depth: C });
    for (let i = 0; i < N; i++)
      void q.enqueue(`${hs.url}k/${i}`, join(dir, `${i}`), { size: 16384 });
    q.close();
    await q.drain();
  },
  engine: async (dir) => {
    const engine = createFetchEngine({
      concurrency: C,
      perHost: C,
      seed: 1,
      driverFor: () => driver,
      fsync: false,
    });
    const q = engine.prefetch({ depth: C });
    for (let i = 0; i < N; i++) void q.enqueue(`s3://b/k/${i}`, join(dir, `${i}`), { size: 16384 });
    q.close();
    await q.drain();
  },
  enginedl: async (dir) => {
    const engine = createFetchEngine({
      concurrency: C,
      perHost: C,
      seed: 1,
      driverFor: () => driver,
      fsync: false,
    });
    await pool(N, C, async (i) => {
      await engine.download(`s3://b/k/${i}`, join(dir, `${i}`), { size: 16384 });
    });
  },
};
const which = (process.env.MODES ?? 'raw,engine').split(',');
const res: Record<string, number[][]> = {};
for (let r = 0; r < Number(process.env.R ?? 4); r++) {
  for (const m of which) {
    const dir = join(work, `${m}${r}`);
    await mkdir(dir, { recursive: true });
    if (process.env.SYNC) execSync('sync');
    const c0 = process.cpuUsage();
    const s0 = ticks(s3.pid);
    const t0 = performance.now();
    await modes[m]!(dir);
    const wall = performance.now() - t0;
    const c = process.cpuUsage(c0);
    const s = ticks(s3.pid) - s0;
    (res[m] ??= []).push([
      N / (wall / 1000),
      ((c.user + c.system) / 1000 / N) * 1000,
      (s / N) * 1000,
    ]);
    console.log(
      m.padEnd(8),
      `${(N / (wall / 1000)).toFixed(0)} obj/s  client ${((c.user + c.system) / N).toFixed(0)} us/obj (user ${(c.user / N).toFixed(0)}) server ${((s / N) * 1000).toFixed(0)} us/obj`,
    );
    await rm(dir, { recursive: true, force: true });
  }
}
client.destroy();
await rm(work, { recursive: true, force: true });
