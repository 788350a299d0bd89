// The native backend: `auto` must pick it whenever setup built it (.ci/run then sets
// STREAMS_EXPECT_NATIVE=1), and it must run in the one tfjs-core engine the learners import.
// Where it is not built, forcing it must fail with an error that says how to build it.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { isStreamsError } from '@streams/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { defaultNativeThreads, selectBackend } from '../src/backend.js';
import { nativePackageDir } from '../src/backendPackages.js';
import { SETUP_STAMP } from '../src/backendSetup.js';

const expectNative = process.env.STREAMS_EXPECT_NATIVE === '1';
const nodeDir = nativePackageDir('@tensorflow/tfjs-node')!;

describe('the native tensorflow backend', () => {
  it(`auto picks it when it is built${expectNative ? ' (required here: STREAMS_EXPECT_NATIVE=1)' : ''}`, async () => {
    const info = await selectBackend({ env: {} });
    if (expectNative) expect(info.name).toBe('tensorflow');
    if (info.name !== 'tensorflow') {
      expect(info.name).toBe('wasm');
      expect(info.skipped[0]).toMatch(/^tensorflow: @tensorflow\/tfjs-node is installed but/);
      const err = await selectBackend({ backend: 'tensorflow' }).catch((e: Error) => e);
      expect(isStreamsError(err, 'STREAMS_BACKEND_UNAVAILABLE')).toBe(true);
      expect((err as Error).message).toMatch(/streams setup-tf/);
      return;
    }
    const stamp = JSON.parse(readFileSync(join(nodeDir, 'deps', SETUP_STAMP), 'utf8'));
    expect(info).toEqual({
      name: 'tensorflow',
      package: '@tensorflow/tfjs-node',
      version: '4.22.0',
      tensorflowVersion: stamp.tensorflowVersion,
      device: 'CPU',
      threads: Number(process.env.TF_NUM_INTRAOP_THREADS ?? defaultNativeThreads()),
      simd: false,
      skipped: [],
    });
  });

  it('runs in the same tfjs-core engine the learners import', async () => {
    const info = await selectBackend({ env: {} });
    if (info.name !== 'tensorflow') {
      expect(expectNative).toBe(false);
      return;
    }
    const tfnode = createRequire(join(nodeDir, 'package.json'))(
      '@tensorflow/tfjs-node',
    ) as typeof tf;
    expect(tfnode.engine()).toBe(tf.engine());
    expect(tfnode.tensor([1, 2]) instanceof tf.Tensor).toBe(true);
    expect(tf.getBackend()).toBe('tensorflow');
    // Ops called through our tfjs-core run in TensorFlow's C library.
    expect(
      (tf.backend() as unknown as { binding?: { TF_Version: string } }).binding?.TF_Version,
    ).toBe(info.tensorflowVersion);
    const y = tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]]));
    expect(await y.data()).toEqual(new Float32Array([11]));
  });
});
