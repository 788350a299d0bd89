import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { sourcesHash } from './sourcesHash.mjs';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..');
const recorder = join(root, 'apps/trainer/test/fixtures/recordImports.mjs');
const work = mkdtempSync(join(tmpdir(), 'streams-launcher-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The CLI's module URLs and output when `pnpm streams --version` runs. */
async function launch(env: Record<string, string> = {}) {
  const log = join(work, `imports-${Math.random()}.txt`);
  const { stdout } = await run(process.execPath, [join(root, 'scripts/streams.mjs'), '--version'], {
    cwd: root,
    // In NODE_OPTIONS, so the tsx child of the from-sources path records its imports too.
    env: {
      ...process.env,
      ...env,
      NODE_OPTIONS: `--import ${recorder}`,
      STREAMS_RECORD_IMPORTS: log,
    },
  });
  return { stdout: stdout.trim(), urls: readFileSync(log, 'utf8').split('\n') };
}

describe('pnpm streams', () => {
  it('hashes source contents: an edit changes the stamp, a touch or a test file does not', () => {
    const tree = join(work, 'tree');
    const pkg = join(tree, 'packages/a');
    mkdirSync(join(pkg, 'src'), { recursive: true });
    mkdirSync(join(tree, 'apps/trainer/src'), { recursive: true });
    const manifest = JSON.stringify({ scripts: { build: 'tsup' } });
    writeFileSync(join(pkg, 'package.json'), manifest);
    writeFileSync(join(tree, 'apps/trainer/package.json'), manifest);
    writeFileSync(join(pkg, 'src/a.ts'), 'export const a = 1;\n');
    const before = sourcesHash(tree);
    utimesSync(join(pkg, 'src/a.ts'), new Date(), new Date(Date.now() + 60_000));
    writeFileSync(join(pkg, 'src/a.test.ts'), 'test');
    expect(sourcesHash(tree)).toBe(before);
    writeFileSync(join(pkg, 'src/a.ts'), 'export const a = 2;\n');
    expect(sourcesHash(tree)).not.toBe(before);
  });

  it('runs the built CLI when the build matches the sources, else the sources through tsx', async () => {
    await run(
      'pnpm',
      ['turbo', 'run', 'build', '--filter=@streams/trainer...', '--output-logs=errors-only'],
      {
        cwd: root,
        maxBuffer: 64 << 20,
      },
    );
    const version = JSON.parse(
      readFileSync(join(root, 'apps/trainer/package.json'), 'utf8'),
    ).version;
    const built = await launch();
    expect(built.stdout).toBe(version);
    expect(built.urls.some((u) => u.endsWith('/apps/trainer/dist/cli.js'))).toBe(true);
    expect(built.urls.some((u) => u.includes('/apps/trainer/src/'))).toBe(false);
    const source = await launch({ STREAMS_FROM_SOURCE: '1' });
    expect(source.stdout).toBe(version);
    expect(source.urls.some((u) => u.endsWith('/apps/trainer/src/cli.ts'))).toBe(true);
  }, 300_000);
});
