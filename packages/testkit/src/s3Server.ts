import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Options of {@link startS3Server}. */
export interface S3ServerOptions {
  /** Buckets created at start-up. */
  buckets?: string[];
  /** Data directory (default: a new temp dir, removed on close). */
  directory?: string;
}

/** A running s3rver child process. */
export interface TestS3Server extends AsyncDisposable {
  /** Endpoint URL, e.g. `http://127.0.0.1:40123`. */
  endpoint: string;
  port: number;
  /** Process id of the s3rver child (benchmarks read its CPU time from `/proc`). */
  pid: number;
  /**
   * The credentials s3rver accepts. It checks the access key id but not SigV4 signatures (its v4
   * check is unimplemented): put a fault proxy with `verifySigV4` in front to check them.
   */
  credentials: { accessKeyId: string; secretAccessKey: string };
  region: string;
  directory: string;
  close(): Promise<void>;
}

/**
 * Starts s3rver (a real S3 API server storing objects on disk) as a child process on
 * 127.0.0.1 with a random port, under `node --openssl-legacy-provider` (it needs the legacy
 * OpenSSL provider on Node 17+). Credentials are `S3RVER` / `S3RVER`.
 */
export async function startS3Server(options: S3ServerOptions = {}): Promise<TestS3Server> {
  const require = createRequire(import.meta.url);
  const s3rverPath = require.resolve('s3rver');
  const ownDir = options.directory === undefined;
  const directory = options.directory ?? (await mkdtemp(join(tmpdir(), 'streams-s3rver-')));
  const config = JSON.stringify({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: (options.buckets ?? []).map((name) => ({ name })),
  });
  // The child prints its port as one JSON line, then serves until killed.
  const script = `
    const S3rver = require(${JSON.stringify(s3rverPath)});
    const server = new S3rver(${config});
    server.run().then((addr) => process.stdout.write(JSON.stringify({ port: addr.port }) + '\\n'),
      (err) => { console.error(err); process.exit(1); });
    process.on('SIGTERM', () => server.close().finally(() => process.exit(0)));
  `;
  const child: ChildProcess = spawn(process.execPath, ['--openssl-legacy-provider', '-e', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) {
        child.stdout?.off('data', onData);
        try {
          resolve((JSON.parse(line) as { port: number }).port);
        } catch (err) {
          reject(err);
        }
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`s3rver exited with ${code}: ${stderr}`)));
  });
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    if (ownDir) await rm(directory, { recursive: true, force: true });
  };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    pid: child.pid ?? 0,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    region: 'us-east-1',
    directory,
    close,
    [Symbol.asyncDispose]: close,
  };
}
