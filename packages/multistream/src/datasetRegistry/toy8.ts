import { rng } from '@streams/core';
import type { DatasetSpec, TensorDataset } from '../datasetSpec.js';

/** Options of the `toy8` stream. */
export interface Toy8Options {
  seed?: number;
  /** Samples drawn per step (default 64). */
  samplesPerStep?: number;
  /** Steps (default 100). */
  steps?: number;
  /** Rotation of the octagon per step, in radians (input drift; default 0.01). */
  drift?: number;
  /** Every this many steps every cluster's label moves to the next class (label drift; default 50, 0 = never). */
  labelPeriod?: number;
  /** Standard deviation of each cluster (default 0.15) around centers on the unit circle. */
  std?: number;
}

/** Samples of step `t` of the toy8 stream: deterministic per (seed, t). */
export function toy8Step(t: number, o: Toy8Options = {}): { x: Float32Array; y: Int32Array } {
  const n = o.samplesPerStep ?? 64;
  const drift = o.drift ?? 0.01;
  const period = o.labelPeriod ?? 50;
  const std = o.std ?? 0.15;
  const r = rng(o.seed ?? 0, t, 'toy8');
  const x = new Float32Array(n * 2); // [n, 2]
  const y = new Int32Array(n); // [n]
  const shift = period > 0 ? Math.floor(t / period) : 0;
  for (let i = 0; i < n; i++) {
    const cluster = r.int(8);
    const angle = (cluster * Math.PI) / 4 + drift * t;
    x[2 * i] = Math.cos(angle) + r.normal(0, std);
    x[2 * i + 1] = Math.sin(angle) + r.normal(0, std);
    y[i] = (cluster + shift) % 8;
  }
  return { x, y };
}

/** The toy8 stream materialized over `steps` steps (each sample keeps its step). */
export async function loadToy8(o: Toy8Options = {}): Promise<TensorDataset> {
  const steps = o.steps ?? 100;
  const per = o.samplesPerStep ?? 64;
  const x = new Float32Array(steps * per * 2); // [steps * per, 2]
  const y = new Int32Array(steps * per); // [steps * per]
  const step = new Uint32Array(steps * per); // [steps * per]
  for (let t = 0; t < steps; t++) {
    const s = toy8Step(t, o);
    x.set(s.x, t * per * 2);
    y.set(s.y, t * per);
    step.fill(t, t * per, (t + 1) * per);
  }
  return { name: 'toy8', x, y, step, shape: [2], numClasses: 8, numSamples: steps * per };
}

/** `toy8`: 8 drifting Gaussian clusters, generated. */
export const toy8: DatasetSpec<Toy8Options> = {
  info: (o) => ({
    description: '8 Gaussian clusters on an octagon whose inputs rotate and labels shift over time',
    numSamples: (o?.steps ?? 100) * (o?.samplesPerStep ?? 64),
    shape: [2],
    numClasses: 8,
    source: 'generated',
  }),
  load: (o) => loadToy8(o),
};
