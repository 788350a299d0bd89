import { rng } from '@streams/core';
import type { Strategy } from '../strategy.js';
import { numberOption, OwnedMemory } from './util.js';

/** Options of GDumb. */
export interface GdumbOptions {
  /** Samples the class-balanced memory keeps (default 1000). */
  memorySize?: number;
  maxBytes?: number;
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
  const size = numberOption(options.memorySize, 1000, 'gdumb.memorySize', 1);
  const epochs = numberOption(options.epochs, 10, 'gdumb.epochs', 1);
  const batchSize = numberOption(options.batchSize, 16, 'gdumb.batchSize', 1);
  const memOptions = {
    size,
    policy: 'classBalanced' as const,
    greedy: true,
    ...(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes }),
  };
  let mem = new OwnedMemory(memOptions, rng(seed, 'gdumb'));
  return {
    name: 'gdumb',
    trainsOnStream: false,
    observe(ctx, batch, n) {
      mem.buffer.add(batch, n, ctx.experience, mem.rng);
    },
    async afterExperience(ctx) {
      await ctx.fitMemory(mem.buffer, { epochs, batchSize, rng: mem.rng, reinit: true });
    },
    memoryReports: () => [mem.buffer.report()],
    getState: () => mem.state(),
    setState(state) {
      mem = mem.restore(state);
    },
    dispose: () => {},
  };
}
