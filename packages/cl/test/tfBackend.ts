import { selectBackend } from '../src/backend.js';

/**
 * The backend every cl test, the bench and the quality script run on: what `selectBackend()`
 * picks (native `tensorflow` when built, else `wasm`, else `cpu`), or the one
 * `STREAMS_TF_BACKEND` forces.
 */
export async function useTestBackend(): Promise<string> {
  return (await selectBackend()).name;
}
