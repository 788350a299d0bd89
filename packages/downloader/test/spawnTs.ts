import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** A TypeScript file of this folder run in a real Node child process (tsx, source conditions). */
export function spawnTs(
  file: string,
  args: string[],
): { child: ChildProcess; exited: Promise<NodeJS.Signals | null>; stderr: () => string } {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--conditions=@streams/source',
      fileURLToPath(new URL(`./${file}`, import.meta.url)),
      ...args,
    ],
    { cwd: fileURLToPath(new URL('..', import.meta.url)), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.once('exit', (_code, signal) => resolve(signal)),
  );
  return { child, exited, stderr: () => stderr };
}
