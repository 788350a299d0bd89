// The README's "Backends" examples, run as written: the TypeScript one in a child process, the
// shell lines from the repository root.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { nativePackageDir } from '../src/backendPackages.js';
import { findCudaDriver, SETUP_STAMP } from '../src/backendSetup.js';

const run = promisify(execFile);
const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const root = join(packageDir, '..', '..');
const readme = readFileSync(join(packageDir, 'README.md'), 'utf8');
const section = readme.slice(readme.indexOf('## Backends'));
const work = mkdtempSync(join(tmpdir(), 'streams-cl-readme-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs a command, resolving to its exit code and output whether it succeeds or not. */
async function outcome(file: string, args: string[], cwd: string) {
  try {
    const r = await run(file, args, { cwd, maxBuffer: 1 << 22 });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (e) {
    const r = e as { code: number; stdout: string; stderr: string };
    return { code: r.code, out: r.stdout + r.stderr };
  }
}

describe('README, Backends', { timeout: 180_000 }, () => {
  it('the selectBackend example runs and reports the backend', async () => {
    const example = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    expect(example).toContain('selectBackend');
    const file = join(work, 'example.mts'); // ESM: the example awaits at top level
    writeFileSync(
      file,
      example!.replace("'@streams/cl'", JSON.stringify(join(packageDir, 'src', 'index.ts'))),
    );
    const env = { ...process.env, STREAMS_TF_BACKEND: undefined };
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', '--conditions=@streams/source', file],
      { cwd: packageDir, env },
    );
    const want = process.env.STREAMS_EXPECT_NATIVE === '1' ? 'tensorflow' : '(tensorflow|wasm)';
    expect(stdout).toMatch(
      new RegExp(
        `^${want} @tensorflow/tfjs-[a-z-]+@4\\.22\\.0 CPU threads=\\d+ simd=(true|false)$`,
        'm',
      ),
    );
  });

  it('the setup-tf lines run from the repository root', async () => {
    const lines = /```sh\n([\s\S]*?)```/
      .exec(section)![1]!
      .trim()
      .split('\n')
      .map((l) => l.replace(/#.*/, '').trim());
    expect(lines).toEqual(['pnpm streams setup-tf', 'pnpm streams setup-tf --gpu']);
    const built = existsSync(join(nativePackageDir('@tensorflow/tfjs-node')!, 'deps', SETUP_STAMP));
    if (built) {
      // Built by scripts/setup.sh: the command says so and returns (a build takes minutes).
      const cpu = await outcome('pnpm', lines[0]!.split(' ').slice(1), root);
      expect(cpu.code).toBe(0);
      expect(cpu.out).toMatch(/already built against TensorFlow/);
    }
    const gpu = await outcome('pnpm', lines[1]!.split(' ').slice(1), root);
    expect(gpu.code).toBe(1);
    expect(gpu.out).toMatch(
      (await findCudaDriver())
        ? /@tensorflow\/tfjs-node-gpu is not installed/
        : /no CUDA driver \(libcuda\.so\.1\)/,
    );
  });
});
