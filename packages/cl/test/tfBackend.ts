import '@tensorflow/tfjs-backend-cpu';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';

/**
 * The backend every cl test, the bench and the quality script run on: `STREAMS_TF_BACKEND`
 * (`cpu`, `wasm`, or `tensorflow` when @tensorflow/tfjs-node is installed), else `cpu`. One
 * place, so it can become the package's `selectBackend()` in one line once that lands.
 */
export async function useTestBackend(): Promise<string> {
  const name = process.env.STREAMS_TF_BACKEND ?? 'cpu';
  const packages: Record<string, string> = {
    tensorflow: '@tensorflow/tfjs-node',
    wasm: '@tensorflow/tfjs-backend-wasm',
  };
  if (packages[name] && !tf.findBackend(name)) {
    // Optional packages, absent from a fresh clone: loaded only when asked for.
    createRequire(import.meta.url)(packages[name]!);
  }
  if (!(await tf.setBackend(name))) {
    throw new Error(`[streams/cl tests] backend "${name}" is not registered in this process`);
  }
  await tf.ready();
  return tf.getBackend();
}
