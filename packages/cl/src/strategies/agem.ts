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
 * `groups` lists param indices projected together: one group (global) or one per layer. The dot
 * products are read back in one round trip, so a group that needs no projection costs no more ops.
 */
export function agemProject(
  grads: readonly tf.Tensor[],
  ref: readonly tf.Tensor[],
  groups: readonly number[][],
): tf.Tensor[] {
  // Per param: g . r and r . r, read in one round trip.
  const dots = tf
    .stack(grads.flatMap((g, i) => [tf.sum(tf.mul(g, ref[i]!)), tf.sum(tf.square(ref[i]!))]))
    .dataSync(); // [2 * params]
  const out = [...grads];
  for (const group of groups) {
    let gr = 0;
    let rr = 0;
    for (const i of group) {
      gr += dots[2 * i]!;
      rr += dots[2 * i + 1]!;
    }
    if (!(gr < 0 && rr > 0)) continue;
    const coef = gr / rr;
    for (const i of group) out[i] = tf.sub(grads[i]!, tf.mul(ref[i]!, coef));
  }
  return out;
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
