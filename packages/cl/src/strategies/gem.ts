import { rng } from '@streams/core';
import * as tf from '@tensorflow/tfjs-core';
import { solveGemDual } from '../gemQp.js';
import type { Strategy } from '../strategy.js';
import { memoryOptions, numberOption, StrategyMemory, type StrategyMemoryOptions } from './util.js';

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
      const k = past.length;
      // Every past experience's gradient in one pass, kept per param (no [k, all params] copy).
      const G = ctx
        .groupGradients(past.map((e) => mem.buffer.sample(refBatch, mem.rng, { experience: e })!))
        .map((t) => tf.reshape(t, [k, -1]) as tf.Tensor2D); // each [k, size]
      const sum = (terms: tf.Tensor[]) => (terms.length === 1 ? terms[0]! : tf.addN(terms));
      const dots = sum(G.map((t, i) => tf.matMul(t, tf.reshape(grads[i]!, [-1, 1])))).dataSync(); // [k]
      if (dots.every((d) => d >= 0)) return grads;
      const gg = sum(G.map((t) => tf.matMul(t, t, false, true))).arraySync() as number[][]; // [k, k]
      const P = gg.map((row, i) => row.map((x, j) => (i === j ? x + eps : x)));
      const v = solveGemDual(
        P.map((row, i) => row.map((x, j) => 0.5 * (x + P[j]![i]!))),
        Array.from(dots),
        margin,
      );
      const vt = tf.tensor2d([v]); // [1, k]
      return grads.map((g, i) => tf.add(g, tf.reshape(tf.matMul(vt, G[i]!), g.shape)));
    },
    ...mem.hooks(),
  };
}
