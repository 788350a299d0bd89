import { rng } from '@streams/core';
import * as tf from '@tensorflow/tfjs-core';
import { solveGemDual } from '../gemQp.js';
import type { Strategy } from '../strategy.js';
import {
  flatten,
  memoryOptions,
  numberOption,
  StrategyMemory,
  type StrategyMemoryOptions,
  unflatten,
} from './util.js';

/** Options of GEM. */
export interface GemOptions extends StrategyMemoryOptions {
  /** Samples kept per experience (default 256, the paper's memory per task); the memory holds 10000 in all by default. */
  patternsPerExperience?: number;
  /** Samples per past experience in each step's constraint gradients (default: all it holds). */
  refBatchSize?: number;
  /** The margin gamma (`memory_strength` of the reference code, default 0.5). */
  memoryStrength?: number;
  /** Added to the diagonal of G G^T (default 1e-3, as the reference code). */
  eps?: number;
}

/**
 * Gradient episodic memory (Lopez-Paz & Ranzato, 2017): one constraint per past experience,
 * `g . g_k >= 0`; when one is violated the gradient is replaced by `g + G^T v` from the dual QP
 * (solved exactly in TypeScript, see gemQp.ts).
 */
export function gem(options: GemOptions = {}, seed = 0): Strategy {
  const refBatch = numberOption(
    options.refBatchSize,
    Number.MAX_SAFE_INTEGER,
    'gem.refBatchSize',
    1,
  );
  const margin = numberOption(options.memoryStrength, 0.5, 'gem.memoryStrength');
  const eps = numberOption(options.eps, 1e-3, 'gem.eps');
  const mem = new StrategyMemory(
    memoryOptions(options, 'gem', 10_000, {
      policy: 'perExperience',
      perExperience: numberOption(
        options.patternsPerExperience,
        256,
        'gem.patternsPerExperience',
        1,
      ),
    }),
    rng(seed, 'gem'),
  );
  return {
    name: 'gem',
    trainsOnStream: true,
    project(ctx, grads) {
      const past = mem.buffer.experiences().filter((e) => e < ctx.experience);
      if (past.length === 0) return grads;
      const rows = past.map((e) => {
        const drawn = mem.buffer.sample(refBatch, mem.rng, { experience: e })!;
        return flatten(ctx.gradients(drawn.batch, drawn.n));
      });
      const G = tf.stack(rows) as tf.Tensor2D; // [past, params]
      const g = flatten(grads); // [params]
      const dots = tf.matMul(G, tf.reshape(g, [-1, 1])).dataSync(); // [past]
      if (dots.every((d) => d >= 0)) return grads;
      const gg = tf.matMul(G, G, false, true).arraySync() as number[][]; // [past, past]
      const P = gg.map((row, i) => row.map((x, j) => (i === j ? x + eps : x)));
      const v = solveGemDual(
        P.map((row, i) => row.map((x, j) => 0.5 * (x + P[j]![i]!))),
        Array.from(dots),
        margin,
      );
      const projected = tf.add(g, tf.reshape(tf.matMul(tf.tensor2d([v]), G), [-1])) as tf.Tensor1D;
      return unflatten(projected, ctx.model.params);
    },
    ...mem.hooks(),
  };
}
