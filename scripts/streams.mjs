#!/usr/bin/env node
// `pnpm streams`: runs the built CLI (apps/trainer/dist/cli.js) when it was built from the sources as
// they are (scripts/sourcesHash.mjs), else the CLI from its TypeScript sources through tsx, saying how to
// get the fast start. The built CLI starts in about a tenth of the time tsx needs to compile.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sourcesHash } from './sourcesHash.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);

/** Whether apps/trainer/dist was built from the sources as they are now. */
function builtIsCurrent() {
  try {
    return (
      readFileSync(join(root, 'apps/trainer/dist/sources-hash'), 'utf8').trim() === sourcesHash()
    );
  } catch {
    return false; // never built
  }
}

if (process.env.STREAMS_FROM_SOURCE !== '1' && builtIsCurrent()) {
  await import('../apps/trainer/dist/cli.js');
} else {
  if (process.stderr.isTTY && process.env.STREAMS_FROM_SOURCE !== '1')
    process.stderr.write('streams: running from sources (pnpm build once for a faster start)\n');
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--conditions=@streams/source',
      join(root, 'apps/trainer/src/cli.ts'),
      ...args,
    ],
    { stdio: 'inherit' },
  );
  // The child gets Ctrl-C from the terminal itself; a SIGTERM sent to this process is passed on.
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => {
    process.exitCode = code ?? (signal === 'SIGINT' ? 130 : 1);
  });
}
