import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Runs `count` hitWorker processes: waits until all have loaded and opened the cache, starts them
 * together, and returns their total operations per second.
 */
export async function runHitWorkers(
  count: number,
  mode: 'cache' | 'reference',
  dir: string,
  keys: Array<{ key: string; path: string }>,
  durationMs: number,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const worker = join(packageDir, 'bench', 'hitWorker.ts');
  const children = Array.from({ length: count }, () =>
    spawn(
      process.execPath,
      ['--import', 'tsx', '--conditions=@streams/source', worker, mode, dir, JSON.stringify(keys)],
      { cwd: packageDir, env, stdio: ['pipe', 'pipe', 'inherit'] },
    ),
  );
  const outputs = children.map((child) => {
    let out = '';
    let ready!: () => void;
    const isReady = new Promise<void>((r) => {
      ready = r;
    });
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('READY\n')) ready();
    });
    const done = new Promise<number>((resolve, reject) =>
      child.on('close', (code) =>
        code === 0
          ? resolve(Number(out.replace('READY\n', '').trim()))
          : reject(new Error(`bench worker exited with ${code}`)),
      ),
    );
    return { isReady, done };
  });
  await Promise.all(outputs.map((o) => o.isReady));
  const startAt = Date.now() + 200;
  for (const child of children) child.stdin.end(`GO ${startAt} ${durationMs}\n`);
  const ops = await Promise.all(outputs.map((o) => o.done));
  return ops.reduce((a, b) => a + b, 0) / (durationMs / 1000);
}
