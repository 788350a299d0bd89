// `streams setup-tf` as a user runs it. The full build runs in scripts/setup.sh (and so in CI);
// here: its arguments, each clear error before any file changes, and the quick no-op when built.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findCudaDriver, nativePackageDir, SETUP_STAMP } from '@streams/cl';
import { describe, expect, it } from 'vitest';
import { sink } from '../test/helpers.js';
import { EXIT, main } from './main.js';

async function run(argv: string[]) {
  const out = sink();
  const err = sink();
  const code = await main(argv, out.stream, err.stream);
  return { code, out: out.text(), err: err.text() };
}

const hasCuda = (await findCudaDriver()) !== undefined;

describe('streams setup-tf', { timeout: 120_000 }, () => {
  it('documents its flags', async () => {
    const r = await run(['setup-tf', '--help']);
    expect(r.code).toBe(EXIT.ok);
    for (const flag of ['--gpu', '--tf-version <string>', '--wheel <string>', '--force']) {
      expect(r.out).toContain(flag);
    }
    expect(r.out).toMatch(/CUDA 12, cuDNN 9/);
  });

  it('rejects arguments and versions that are not releases', async () => {
    const extra = await run(['setup-tf', 'tensorflow.whl']);
    expect(extra.code).toBe(EXIT.usage);
    expect(extra.err).toMatch(/STREAMS_INVALID_CONFIG: .*takes no arguments.*--wheel <file>/);
    const bad = await run(['setup-tf', '--tf-version', '2.21; rm -rf /']);
    expect(bad.code).toBe(EXIT.usage);
    expect(bad.err).toMatch(
      /STREAMS_INVALID_CONFIG: .*"2.21; rm -rf \/" is not a TensorFlow release/,
    );
  });

  it('says so when the given wheel does not exist', async () => {
    const r = await run(['setup-tf', '--wheel', '/nonexistent/tensorflow_cpu.whl', '--force']);
    expect(r.code).toBe(EXIT.error);
    expect(r.err).toMatch(/STREAMS_NOT_FOUND: .*no wheel at \/nonexistent\/tensorflow_cpu\.whl/);
  });

  it.skipIf(hasCuda)(
    '--gpu stops with the CUDA requirements where no CUDA driver is found',
    async () => {
      const r = await run(['setup-tf', '--gpu']);
      expect(r.code).toBe(EXIT.error);
      expect(r.err).toMatch(/STREAMS_BACKEND_UNAVAILABLE: .*no CUDA driver \(libcuda\.so\.1\)/);
      expect(r.err).toMatch(/CUDA 12 and cuDNN 9.*--skip-cuda-check/);
    },
  );

  it('--gpu --skip-cuda-check needs @tensorflow/tfjs-node-gpu, and says how to install it', async () => {
    const r = await run(['setup-tf', '--gpu', '--skip-cuda-check']);
    expect(r.code).toBe(EXIT.error);
    expect(r.err).toMatch(
      /STREAMS_BACKEND_UNAVAILABLE: .*@tensorflow\/tfjs-node-gpu is not installed/,
    );
    expect(r.err).toMatch(/--ignore-scripts @tensorflow\/tfjs-node-gpu@4\.22\.0/);
  });

  it('names pip and the way around it when no wheel can be had, and leaves the build alone', async () => {
    const stamp = join(stampDir(), SETUP_STAMP);
    const before = existsSync(stamp) ? readFileSync(stamp, 'utf8') : undefined;
    const r = await run(['setup-tf', '--tf-version', '0.0.1']);
    expect(r.code).toBe(EXIT.error);
    expect(r.out).toMatch(/getting the tensorflow-cpu==0\.0\.1 wheel with pip/);
    expect(r.err).toMatch(
      /STREAMS_BACKEND_UNAVAILABLE: .*pip could not get tensorflow-cpu==0\.0\.1/,
    );
    expect(r.err).toMatch(/pass --wheel <file>/);
    expect(existsSync(stamp) ? readFileSync(stamp, 'utf8') : undefined).toBe(before);
  });

  it('is a quick no-op when the same build is in place (setup builds it where a wheel can be had)', async () => {
    const stamp = join(stampDir(), SETUP_STAMP);
    if (!existsSync(stamp)) {
      // No build here: STREAMS_EXPECT_NATIVE must then be unset (.ci/run sets it after a build).
      expect(process.env.STREAMS_EXPECT_NATIVE).toBeUndefined();
      return;
    }
    const r = await run(['setup-tf']);
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toMatch(/@tensorflow\/tfjs-node is already built against TensorFlow 2\.21\.0/);
    expect(r.out).toMatch(/selectBackend\(\) now picks "tensorflow"/);
  });
});

/** The deps/ folder of the tfjs-node that @streams/cl resolves (a devDependency there). */
function stampDir(): string {
  const dir = nativePackageDir('@tensorflow/tfjs-node');
  expect(dir).toBeDefined();
  return join(dir!, 'deps');
}
