import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';

/**
 * The backend every cl test runs on: `STREAMS_TF_BACKEND`, else `cpu`. One place, so it can
 * become the package's `selectBackend()` in one line once that lands.
 */
export async function useTestBackend(): Promise<string> {
  const name = process.env.STREAMS_TF_BACKEND ?? 'cpu';
  if (!(await tf.setBackend(name))) {
    throw new Error(`[streams/cl tests] backend "${name}" is not registered in this process`);
  }
  await tf.ready();
  return tf.getBackend();
}
