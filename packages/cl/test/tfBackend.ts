import { type BackendName, selectBackend } from '../src/backend.js';

/**
 * The backend every cl test, the bench and the quality script run on: what `selectBackend()`
 * picks (native `tensorflow` when built, else `wasm`, else `cpu`), or the one
 * `STREAMS_TF_BACKEND` forces.
 */
export async function useTestBackend(): Promise<string> {
  return (await selectBackend()).name;
}

/**
 * Starts every backend the conformance suites compare and returns the names present, `cpu` (the
 * reference) first. `cpu` and `wasm` are plain dependencies, so either one failing to start is an
 * error; native `tensorflow` is optional, except where setup built it (`.ci/run` then sets
 * `STREAMS_EXPECT_NATIVE=1`): a suite that quietly skipped it would not test it.
 */
export async function conformanceBackends(): Promise<BackendName[]> {
  const present: BackendName[] = ['cpu', 'wasm'];
  await selectBackend({ backend: 'cpu', env: {} });
  await selectBackend({ backend: 'wasm', env: {} });
  try {
    await selectBackend({ backend: 'tensorflow', env: {} });
    present.push('tensorflow');
  } catch (e) {
    if (process.env.STREAMS_EXPECT_NATIVE === '1') throw e; // setup built it: it must be here
  }
  return present;
}
