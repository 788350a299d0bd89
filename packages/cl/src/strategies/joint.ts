import { rng } from '@streams/core';
import type { Strategy } from '../strategy.js';
import { memoryOptions, numberOption, StrategyMemory, type StrategyMemoryOptions } from './util.js';

/** Options of joint training. */
export interface JointOptions extends StrategyMemoryOptions {
  /** Epochs over all data seen so far after each experience (default 1). */
  epochs?: number;
  /** Minibatch size (default 32). */
  batchSize?: number;
  /** Start each refit from fresh weights (default true: joint training on experiences 1..t). */
  reinit?: boolean;
}

/**
 * Joint training, the upper bound: it keeps every sample seen (up to `memorySize`, default
 * 100000; beyond it a uniform subsample) and, after each experience, trains on all experiences
 * so far together (shuffled), as if they had come as one dataset.
 */
export function joint(options: JointOptions = {}, seed = 0): Strategy {
  const epochs = numberOption(options.epochs, 1, 'joint.epochs', 1);
  const batchSize = numberOption(options.batchSize, 32, 'joint.batchSize', 1);
  const reinit = options.reinit ?? true;
  const mem = new StrategyMemory(
    memoryOptions(options, 'joint', 100_000, { policy: 'reservoir' }),
    rng(seed, 'joint'),
  );
  return {
    name: 'joint',
    trainsOnStream: false,
    async afterExperience(ctx) {
      await ctx.fitMemory(mem.buffer, { epochs, batchSize, rng: mem.rng, reinit });
    },
    ...mem.hooks(),
  };
}
