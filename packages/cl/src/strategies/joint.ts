import { rng } from '@streams/core';
import type { Strategy } from '../strategy.js';
import { numberOption, OwnedMemory } from './util.js';

/** Options of joint training. */
export interface JointOptions {
  /** Samples kept of everything seen (default 100000); beyond it, a uniform subsample is kept. */
  maxSamples?: number;
  maxBytes?: number;
  /** Epochs over all data seen so far after each experience (default 1). */
  epochs?: number;
  /** Minibatch size (default 32). */
  batchSize?: number;
  /** Start each refit from fresh weights (default true: joint training on experiences 1..t). */
  reinit?: boolean;
}

/**
 * Joint training, the upper bound: it keeps every sample seen and, after each experience, trains
 * on all experiences so far together (shuffled), as if they had come as one dataset.
 */
export function joint(options: JointOptions = {}, seed = 0): Strategy {
  const size = numberOption(options.maxSamples, 100_000, 'joint.maxSamples', 1);
  const epochs = numberOption(options.epochs, 1, 'joint.epochs', 1);
  const batchSize = numberOption(options.batchSize, 32, 'joint.batchSize', 1);
  const reinit = options.reinit ?? true;
  const memOptions = {
    size,
    policy: 'reservoir' as const,
    ...(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes }),
  };
  let mem = new OwnedMemory(memOptions, rng(seed, 'joint'));
  return {
    name: 'joint',
    trainsOnStream: false,
    observe(ctx, batch, n) {
      mem.buffer.add(batch, n, ctx.experience, mem.rng);
    },
    async afterExperience(ctx) {
      await ctx.fitMemory(mem.buffer, { epochs, batchSize, rng: mem.rng, reinit });
    },
    memoryReports: () => [mem.buffer.report()],
    getState: () => mem.state(),
    setState(state) {
      mem = mem.restore(state);
    },
    dispose: () => {},
  };
}
