// Datasets the trainer registers with @streams/multistream's registry (so `streams datasets`
// lists them and a stream names them like any other): `drift-field`, a drifting synthetic 2D field
// in the toy-data design of InSituML (time-dependent samples made by moving a toy8-like pattern
// with time), for autoencoders trained continually on simulation-like data.
import { type Rng, rng } from '@streams/core';
import { type DatasetSpec, registerDataset, type TensorDataset } from '@streams/multistream';

/** Options of `drift-field`. */
export interface DriftFieldOptions {
  /** Grid side in cells (default 16). */
  size?: number;
  /** Phases of the drift, each one label (default 8). */
  phases?: number;
  /** Samples per phase (default 256). */
  samplesPerPhase?: number;
  /** Rotation of the pattern per phase, in radians (default 0.3). */
  drift?: number;
  /** Standard deviation of the additive noise (default 0.02). */
  noise?: number;
  seed?: number;
}

const BLOBS = 8;

/**
 * The field at time `t` (phases are unit intervals): eight Gaussian blobs of distinct widths on a
 * ring that turns by `drift` and widens with time, each present with probability 1/2 at a random
 * amplitude, plus noise. Written into `out` `[size, size]`.
 */
function renderField(t: number, o: Required<DriftFieldOptions>, r: Rng, out: Float32Array): void {
  const n = o.size;
  const radius = 0.3 + (0.45 * t) / o.phases;
  const cx = new Float64Array(BLOBS); // [blobs]
  const cy = new Float64Array(BLOBS); // [blobs]
  const amp = new Float64Array(BLOBS); // [blobs]
  for (let k = 0; k < BLOBS; k++) {
    const angle = (k * Math.PI) / 4 + o.drift * t;
    cx[k] = radius * Math.cos(angle);
    cy[k] = radius * Math.sin(angle);
    amp[k] = r.bernoulli(0.5) ? 0.5 + 0.5 * r.float() : 0;
  }
  for (let i = 0; i < n; i++) {
    const py = -1 + (2 * (i + 0.5)) / n;
    for (let j = 0; j < n; j++) {
      const px = -1 + (2 * (j + 0.5)) / n;
      let v = 0;
      for (let k = 0; k < BLOBS; k++) {
        if (amp[k] === 0) continue;
        const s = 0.1 + 0.02 * k; // distinct widths: the pattern has no rotational symmetry
        const d2 = (px - cx[k]!) ** 2 + (py - cy[k]!) ** 2;
        v += amp[k]! * Math.exp(-d2 / (2 * s * s));
      }
      out[i * n + j] = v + r.normal(0, o.noise);
    }
  }
}

/** Generates the drifting field: `phases * samplesPerPhase` samples, labelled by phase, in time order. */
export function loadDriftField(options: DriftFieldOptions = {}): TensorDataset {
  const o: Required<DriftFieldOptions> = {
    size: options.size ?? 16,
    phases: options.phases ?? 8,
    samplesPerPhase: options.samplesPerPhase ?? 256,
    drift: options.drift ?? 0.3,
    noise: options.noise ?? 0.02,
    seed: options.seed ?? 0,
  };
  const per = o.size * o.size;
  const count = o.phases * o.samplesPerPhase;
  const x = new Float32Array(count * per); // [count, size, size]
  const y = new Int32Array(count); // [count]
  const step = new Uint32Array(count); // [count]
  for (let p = 0; p < o.phases; p++) {
    const r = rng(o.seed, 'drift-field', p);
    for (let i = 0; i < o.samplesPerPhase; i++) {
      const s = p * o.samplesPerPhase + i;
      renderField(p + r.float(), o, r, x.subarray(s * per, (s + 1) * per));
      y[s] = p;
      step[s] = p;
    }
  }
  return {
    name: 'drift-field',
    x,
    y,
    step,
    shape: [o.size, o.size],
    numClasses: o.phases,
    numSamples: count,
    classNames: Array.from({ length: o.phases }, (_, p) => `phase ${p}`),
  };
}

/** `drift-field`: the generated drifting 2D field. */
export const driftField: DatasetSpec<DriftFieldOptions> = {
  info: (o) => ({
    description:
      'a drifting 2D field (InSituML-style toy data): Gaussian blobs on a ring that turns and widens; label = phase of the drift',
    numSamples: (o?.phases ?? 8) * (o?.samplesPerPhase ?? 256),
    shape: [o?.size ?? 16, o?.size ?? 16],
    numClasses: o?.phases ?? 8,
    source: 'generated',
  }),
  load: async (o) => loadDriftField(o),
};

/** Registers the trainer's datasets (idempotent). */
export function registerTrainerDatasets(): void {
  registerDataset('drift-field', driftField);
}
