import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Starts a TypeScript fixture in a real Node child process (tsx loader, source conditions). */
export function spawnFixture(
  name: string,
  args: string[],
  nodeArgs: string[] = [],
): ChildProcess & { output: Promise<string> } {
  const child = spawn(
    process.execPath,
    [
      ...nodeArgs,
      '--import',
      'tsx',
      '--conditions=@streams/source',
      join(packageDir, 'test', 'fixtures', name),
      ...args,
    ],
    { cwd: packageDir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  const output = new Promise<string>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${name} exited with ${code ?? signal}: ${err.slice(-2000)}`));
    });
  });
  output.catch(() => {});
  return Object.assign(child, { output });
}

/** Resolves when the child prints `line` on stdout. */
export function waitForLine(child: ChildProcess, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (d: Buffer | string) => {
      seen += d.toString();
      if (seen.split('\n').includes(line)) {
        child.stdout!.off('data', onData);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.on('close', (code) =>
      reject(new Error(`child exited (${code}) before printing ${line}`)),
    );
  });
}
