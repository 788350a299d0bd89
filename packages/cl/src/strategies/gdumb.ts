import { rng } from '@streams/core';
import type { Strategy } from '../strategy.js';
import { memoryOptions, numberOption, StrategyMemory, type StrategyMemoryOptions } from './util.js';

/** Options of GDumb (memory default 1000 samples). */
export interface GdumbOptions extends StrategyMemoryOptions {
  /** Epochs of training from scratch on the memory after each experience (default 10). */
  epochs?: number;
  /** Minibatch size of that training (default 16). */
  batchSize?: number;
}

/**
 * GDumb (Prabhu et al., 2020): stream batches only fill a greedy class-balanced memory; after
 * each experience the model is re-initialized and trained on the memory alone.
 */
export function gdumb(options: GdumbOptions = {}, seed = 0): Strategy {
  const epochs = numberOption(options.epochs, 10, 'gdumb.epochs', 1);
  const batchSize = numberOption(options.batchSize, 16, 'gdumb.batchSize', 1);
  const mem = new StrategyMemory(
    memoryOptions(options, 'gdumb', 1000, { policy: 'classBalanced', greedy: true }),
    rng(seed, 'gdumb'),
  );
  return {
    name: 'gdumb',
    trainsOnStream: false,
    async afterExperience(ctx) {
      await ctx.fitMemory(mem.buffer, { epochs, batchSize, rng: mem.rng, reinit: true });
    },
    ...mem.hooks(),
  };
}
