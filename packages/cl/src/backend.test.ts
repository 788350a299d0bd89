import { readFileSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isStreamsError } from '@streams/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { backendInfo, defaultNativeThreads, selectBackend } from './backend.js';
import { nativePackageDir } from './backendPackages.js';
import { conv3DBackpropInputV2Config } from './kernels/conv3DBackpropInputV2.js';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

describe('selectBackend', () => {
  it('rejects an unknown STREAMS_TF_BACKEND, naming the variable and the choices', async () => {
    const err = await rejection(selectBackend({ env: { STREAMS_TF_BACKEND: 'webgpu' } }));
    expect(isStreamsError(err, 'STREAMS_INVALID_CONFIG')).toBe(true);
    expect(err.message).toMatch(/STREAMS_TF_BACKEND="webgpu".*auto, tensorflow, wasm, cpu/);
  });

  it('rejects threads that are not a positive integer', async () => {
    const err = await rejection(selectBackend({ backend: 'cpu', threads: 0 }));
    expect(isStreamsError(err, 'STREAMS_INVALID_CONFIG')).toBe(true);
    expect(err.message).toMatch(/threads=0/);
  });

  it('starts wasm with SIMD, registers gradients and the training kernels, and reports it', async () => {
    const info = await selectBackend({ backend: 'wasm' });
    expect(info).toEqual({
      name: 'wasm',
      package: '@tensorflow/tfjs-backend-wasm',
      version: '4.22.0',
      device: 'CPU',
      threads: 1,
      simd: true,
      skipped: [],
    });
    expect(tf.getBackend()).toBe('wasm');
    expect(backendInfo()).toEqual(info);
    expect(tf.getGradient('Conv2D')).toBeDefined();
    expect(tf.getGradient('Conv3DBackpropInputV2')).toBeDefined();
    for (const k of [
      'Conv2DBackpropFilter',
      'DepthwiseConv2dNativeBackpropFilter',
      'DepthwiseConv2dNativeBackpropInput',
      'UnsortedSegmentSum',
    ]) {
      expect(tf.getKernel(k, 'wasm'), k).toBeDefined();
    }
    expect(tf.getKernel('Conv3DBackpropInputV2', 'wasm')?.kernelFunc).toBe(
      conv3DBackpropInputV2Config.kernelFunc,
    );
  });

  it('takes the backend from STREAMS_TF_BACKEND', async () => {
    const info = await selectBackend({ env: { STREAMS_TF_BACKEND: 'cpu' } });
    expect(info).toMatchObject({
      name: 'cpu',
      package: '@tensorflow/tfjs-backend-cpu',
      threads: 1,
    });
    expect(tf.getBackend()).toBe('cpu');
  });

  it('backendInfo refuses to describe a backend that was switched behind its back', async () => {
    await selectBackend({ backend: 'cpu' });
    await tf.setBackend('wasm');
    expect(() => backendInfo()).toThrow(/active TensorFlow.js backend is "wasm"/);
  });
});

describe('defaultNativeThreads', () => {
  it("is one TensorFlow thread on 2 cores or fewer, else TensorFlow's own (one per core)", () => {
    expect([1, 2, 3, 4, 16].map((n) => defaultNativeThreads(n))).toEqual([1, 1, 3, 4, 16]);
  });
});

describe('one @tensorflow/tfjs-core', () => {
  it('the lockfile resolves a single version', () => {
    const lock = readFileSync(join(packageDir, '..', '..', 'pnpm-lock.yaml'), 'utf8');
    const versions = new Set(
      [...lock.matchAll(/^ {2}'@tensorflow\/tfjs-core@([^']+)':$/gm)].map((m) => m[1]),
    );
    expect([...versions]).toEqual(['4.22.0']);
  });

  it('every tfjs package, native included, loads the same tfjs-core file as @streams/cl', () => {
    const ours = realpathSync(createRequire(import.meta.url).resolve('@tensorflow/tfjs-core'));
    const nodeDir = nativePackageDir('@tensorflow/tfjs-node');
    expect(nodeDir, 'tfjs-node is a devDependency here').toBeDefined();
    const fromNode = createRequire(join(nodeDir!, 'package.json'));
    const union = dirname(fromNode.resolve('@tensorflow/tfjs/package.json'));
    const from = [
      join(nodeDir!, 'package.json'),
      join(union, 'package.json'),
      createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm'),
      createRequire(import.meta.url).resolve('@tensorflow/tfjs'),
    ];
    for (const f of from) {
      expect(realpathSync(createRequire(f).resolve('@tensorflow/tfjs-core')), f).toBe(ours);
    }
  });
});
