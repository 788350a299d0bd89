import { rng } from '@streams/core';
import type { Batch } from '../src/batch.js';

/** A toy dataset: rows of `x` `[n, dim]`, class ids `y` `[n]`. */
export interface Toy {
  x: Float32Array;
  y: Int32Array;
  n: number;
  dim: number;
}

/**
 * Gaussian blobs: `classes` centers drawn in `dim` dimensions, `perClass` points around each
 * (std `spread`). Deterministic for `seed`.
 */
export function blobs(o: {
  classes: number;
  perClass: number;
  dim: number;
  spread?: number;
  seed?: number;
}): Toy {
  const r = rng(o.seed ?? 1, 'blobs');
  const centers = Array.from({ length: o.classes }, () =>
    Array.from({ length: o.dim }, () => r.normal(0, 1)),
  );
  const n = o.classes * o.perClass;
  const x = new Float32Array(n * o.dim); // [n, dim]
  const y = new Int32Array(n); // [n]
  const order = r.permutation(n);
  for (let k = 0; k < n; k++) {
    const i = order[k]!;
    const c = k % o.classes;
    y[i] = c;
    for (let d = 0; d < o.dim; d++)
      x[i * o.dim + d] = centers[c]![d]! + r.normal(0, o.spread ?? 0.5);
  }
  return { x, y, n, dim: o.dim };
}

/** The rows of `toy` whose class is in `classes`. */
export function subset(
  toy: Toy,
  classes: readonly number[],
  task?: number,
): Toy & { task?: Int32Array } {
  const rows: number[] = [];
  for (let i = 0; i < toy.n; i++) if (classes.includes(toy.y[i]!)) rows.push(i);
  const x = new Float32Array(rows.length * toy.dim); // [rows, dim]
  const y = new Int32Array(rows.length); // [rows]
  rows.forEach((r, k) => {
    x.set(toy.x.subarray(r * toy.dim, (r + 1) * toy.dim), k * toy.dim);
    y[k] = toy.y[r]!;
  });
  const out: Toy & { task?: Int32Array } = { x, y, n: rows.length, dim: toy.dim };
  if (task !== undefined) out.task = new Int32Array(rows.length).fill(task);
  return out;
}

/** Splits a toy set into batches of `size` rows (the last may be smaller). */
export function batches(
  toy: Toy & { task?: Int32Array; weight?: Float32Array },
  size: number,
): Batch[] {
  const out: Batch[] = [];
  for (let i = 0; i < toy.n; i += size) {
    const j = Math.min(toy.n, i + size);
    const b: Batch = { x: toy.x.slice(i * toy.dim, j * toy.dim), y: toy.y.slice(i, j) };
    if (toy.task) b.task = toy.task.slice(i, j);
    if (toy.weight) b.weight = toy.weight.slice(i, j);
    out.push(b);
  }
  return out;
}
