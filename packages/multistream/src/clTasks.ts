import { rng, StreamsError } from '@streams/core';
import type { TensorDataset } from './datasetSpec.js';

/** One continual-learning task: which samples it holds and how its inputs are transformed. */
export interface ClTask {
  id: number;
  /** Classes of the task (global labels). */
  classes: number[];
  /** Sample indices of the dataset in this task, in dataset order. */
  indices: Uint32Array; // [task samples]
  /** Label the learner sees for sample `i`: global (class-incremental) or within-task (task-incremental). */
  label(i: number): number;
  /** Writes the task's version of input `i` into `out` (a permutation or rotation, or a copy). */
  input(i: number, out?: Float32Array): Float32Array;
}

export interface LabelSplitOptions {
  /** Number of tasks (classes dealt in order, equally) or explicit class lists. */
  tasks: number | number[][];
  /** Shuffle the class order with this seed before dealing (ignored for explicit lists). */
  seed?: number;
}

function inputCopy(ds: TensorDataset) {
  const size = ds.x.length / ds.numSamples;
  return (i: number, out: Float32Array = new Float32Array(size)) => {
    out.set(ds.x.subarray(i * size, (i + 1) * size));
    return out;
  };
}

function classLists(ds: TensorDataset, o: LabelSplitOptions): number[][] {
  if (Array.isArray(o.tasks)) {
    const seen = new Set<number>();
    o.tasks.forEach((cls, t) => {
      for (const c of cls) {
        if (!(Number.isInteger(c) && c >= 0 && c < ds.numClasses) || seen.has(c)) {
          throw new StreamsError(
            'STREAMS_INVALID_CONFIG',
            `[streams/multistream] tasks[${t}] has class ${c}: outside [0, ${ds.numClasses}) or in two tasks`,
            {
              fix: 'give each class to at most one task',
            },
          );
        }
        seen.add(c);
      }
    });
    return o.tasks.map((c) => [...c]);
  }
  const n = o.tasks;
  if (!(Number.isInteger(n) && n >= 1 && n <= ds.numClasses)) {
    throw new StreamsError(
      'STREAMS_INVALID_CONFIG',
      `[streams/multistream] tasks must be an integer in [1, ${ds.numClasses}], got ${n}`,
      {
        fix: 'split the classes into at most one task per class',
      },
    );
  }
  const order = Array.from({ length: ds.numClasses }, (_, c) => c);
  if (o.seed !== undefined) rng(o.seed, 'cl-classes').shuffle(order);
  return Array.from({ length: n }, (_, t) =>
    order.slice(Math.floor((t * ds.numClasses) / n), Math.floor(((t + 1) * ds.numClasses) / n)),
  );
}

function labelSplit(ds: TensorDataset, o: LabelSplitOptions, withinTask: boolean): ClTask[] {
  const lists = classLists(ds, o);
  const copy = inputCopy(ds);
  return lists.map((classes, id) => {
    const local = new Map(classes.map((c, k) => [c, k]));
    const idx: number[] = [];
    for (let i = 0; i < ds.numSamples; i++) if (local.has(ds.y[i]!)) idx.push(i);
    return {
      id,
      classes,
      indices: Uint32Array.from(idx),
      label: (i: number) => (withinTask ? local.get(ds.y[i]!)! : ds.y[i]!),
      input: copy,
    };
  });
}

/** Class-incremental split: tasks hold disjoint label sets, labels stay global. */
export function classIncrementalSplit(ds: TensorDataset, o: LabelSplitOptions): ClTask[] {
  return labelSplit(ds, o, false);
}

/** Task-incremental split: disjoint label sets, labels renumbered from 0 within each task. */
export function taskIncrementalSplit(ds: TensorDataset, o: LabelSplitOptions): ClTask[] {
  return labelSplit(ds, o, true);
}

/** Permuted tasks: every task sees all samples with its own fixed, seeded pixel permutation. */
export function permutedTasks(
  ds: TensorDataset,
  o: { tasks: number; seed: number; keepFirst?: boolean },
): ClTask[] {
  const size = ds.x.length / ds.numSamples;
  const all = Uint32Array.from({ length: ds.numSamples }, (_, i) => i);
  const classes = Array.from({ length: ds.numClasses }, (_, c) => c);
  return Array.from({ length: o.tasks }, (_, id) => {
    const perm =
      id === 0 && (o.keepFirst ?? true)
        ? Uint32Array.from({ length: size }, (_, k) => k)
        : rng(o.seed, id, 'cl-permute').permutation(size);
    return {
      id,
      classes,
      indices: all,
      label: (i: number) => ds.y[i]!,
      input: (i: number, out: Float32Array = new Float32Array(size)) => {
        const base = i * size;
        for (let k = 0; k < size; k++) out[k] = ds.x[base + perm[k]!]!;
        return out;
      },
    };
  });
}

/** Rotated tasks: task k rotates every image by `angles[k]` degrees (bilinear, zero outside). */
export function rotatedTasks(ds: TensorDataset, o: { angles: number[] }): ClTask[] {
  if (ds.shape.length !== 2) {
    throw new StreamsError(
      'STREAMS_INVALID_ARGUMENT',
      `[streams/multistream] rotatedTasks needs 2-D images, ${ds.name} has shape [${ds.shape.join(', ')}]`,
      {
        fix: 'use an image dataset such as mnist or fashion-mnist',
      },
    );
  }
  const [h, w] = ds.shape as [number, number];
  const all = Uint32Array.from({ length: ds.numSamples }, (_, i) => i);
  const classes = Array.from({ length: ds.numClasses }, (_, c) => c);
  return o.angles.map((deg, id) => ({
    id,
    classes,
    indices: all,
    label: (i: number) => ds.y[i]!,
    input: (i: number, out: Float32Array = new Float32Array(h * w)) =>
      rotateImage(ds.x.subarray(i * h * w, (i + 1) * h * w), h, w, deg, out),
  }));
}

/** Rotates an h x w image about its center by `deg` degrees with bilinear sampling. */
export function rotateImage(
  src: Float32Array,
  h: number,
  w: number,
  deg: number,
  out: Float32Array = new Float32Array(h * w),
): Float32Array {
  const a = (deg * Math.PI) / 180;
  const cos = Math.cos(a);
  const sin = Math.sin(a);
  const cy = (h - 1) / 2;
  const cx = (w - 1) / 2;
  const at = (y: number, x: number) => (y >= 0 && y < h && x >= 0 && x < w ? src[y * w + x]! : 0);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      // Inverse mapping: where in the source does this output pixel come from.
      const sx = cos * (x - cx) + sin * (y - cy) + cx;
      const sy = -sin * (x - cx) + cos * (y - cy) + cy;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      out[y * w + x] =
        at(y0, x0) * (1 - fx) * (1 - fy) +
        at(y0, x0 + 1) * fx * (1 - fy) +
        at(y0 + 1, x0) * (1 - fx) * fy +
        at(y0 + 1, x0 + 1) * fx * fy;
    }
  }
  return out;
}
