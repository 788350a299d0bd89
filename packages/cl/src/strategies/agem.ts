import { rng } from '@streams/core';
import * as tf from '@tensorflow/tfjs-core';
import type { Param } from '../models/model.js';
import type { Strategy } from '../strategy.js';
import {
  type ChosenMemoryOptions,
  chosenMemoryOptions,
  numberOption,
  StrategyMemory,
} from './util.js';

/**
 * Options of A-GEM (memory default 1000 samples, shared equally by the experiences seen; policy
 * default `perExperience`; the A-GEM paper keeps 250 per task, its code the last 25 of each class:
 * `policy: 'classRing', perClass: 25`).
 */
export interface AgemOptions extends ChosenMemoryOptions {
  /** Memory samples in each reference gradient (default 256). */
  sampleSize?: number;
  /** One projection per layer (weight and bias together) instead of one over all parameters (default false). */
  layerwise?: boolean;
}

/**
 * The A-GEM projection: where `g . ref < 0`, `g - (g . ref / ref . ref) * ref`, else `g`.
 * `groups` lists param indices projected together: one group (global) or one per layer. The
 * `g . ref` of every param is read back in one round trip; `ref . ref` is computed (in a second
 * round trip) only for the groups that need projecting, so a step that projects nothing costs two
 * ops per param and one read-back.
 */
export function agemProject(
  grads: readonly tf.Tensor[],
  ref: readonly tf.Tensor[],
  groups: readonly number[][],
): tf.Tensor[] {
  const gr = tf.stack(grads.map((g, i) => tf.sum(tf.mul(g, ref[i]!)))).dataSync(); // [params]
  const project = groups.filter((group) => sumAt(gr, group) < 0);
  if (project.length === 0) return [...grads];
  const needed = project.flat();
  const rrOf = tf.stack(needed.map((i) => tf.sum(tf.square(ref[i]!)))).dataSync();
  const rr = new Float64Array(grads.length);
  needed.forEach((i, k) => {
    rr[i] = rrOf[k]!;
  });
  const out = [...grads];
  for (const group of project) {
    const groupRr = sumAt(rr, group);
    if (!(groupRr > 0)) continue;
    const coef = sumAt(gr, group) / groupRr;
    for (const i of group) out[i] = tf.sub(grads[i]!, tf.mul(ref[i]!, coef));
  }
  return out;
}

/** The sum of `values` at `indices`, in their order. */
function sumAt(values: ArrayLike<number>, indices: readonly number[]): number {
  let sum = 0;
  for (const i of indices) sum += values[i]!;
  return sum;
}

/** Param index groups: one group of all params, or one group per layer. */
export function paramGroups(params: readonly Param[], layerwise: boolean): number[][] {
  if (!layerwise) return [params.map((_, i) => i)];
  const byLayer = new Map<string, number[]>();
  params.forEach((p, i) => {
    const list = byLayer.get(p.layer) ?? [];
    list.push(i);
    byLayer.set(p.layer, list);
  });
  return [...byLayer.values()];
}

/**
 * Averaged GEM (Chaudhry et al., 2019): each step's gradient is projected so it does not increase
 * the loss on a random draw from the memory of past experiences; `layerwise` projects each layer
 * on its own (as in the InSituML design).
 */
export function agem(options: AgemOptions = {}, seed = 0): Strategy {
  const sampleSize = numberOption(options.sampleSize, 256, 'agem.sampleSize', 1);
  const layerwise = options.layerwise ?? false;
  const mem = new StrategyMemory(
    chosenMemoryOptions(options, 'agem', 'perExperience'),
    rng(seed, 'agem'),
  );
  let groups: number[][] | null = null;
  return {
    name: 'agem',
    trainsOnStream: true,
    project(ctx, grads) {
      const drawn = mem.buffer.sample(sampleSize, mem.rng, { before: ctx.experience });
      if (!drawn) return grads;
      groups ??= paramGroups(ctx.model.params, layerwise);
      return agemProject(grads, ctx.gradients(drawn.batch, drawn.n), groups);
    },
    ...mem.hooks(),
  };
}
