import { rng } from '@streams/core';
import { concatBatches } from '../batch.js';
import type { MemoryPolicy } from '../memoryBuffer.js';
import type { Strategy } from '../strategy.js';
import { numberOption, OwnedMemory } from './util.js';

/** Options of experience replay. */
export interface ReplayOptions {
  /** Samples the memory keeps (default 1000). */
  memorySize?: number;
  /** Byte bound of the memory (optional; the capacity is the smaller bound). */
  maxBytes?: number;
  /** How the memory chooses (default `reservoir`; `classBalanced`, `perExperience`, `weightedReservoir`). */
  policy?: MemoryPolicy;
  /** `perExperience`: at most this many samples per experience. */
  perExperience?: number;
  /** Memory samples drawn into each batch (default: as many as the batch has). */
  batchSize?: number;
}

/**
 * Experience replay: every stream batch is joined by a uniform draw from an episodic memory that
 * is updated online from the stream (so it holds a bounded sample of everything seen).
 */
export function replay(options: ReplayOptions = {}, seed = 0): Strategy {
  const size = numberOption(options.memorySize, 1000, 'replay.memorySize', 1);
  const draw =
    options.batchSize === undefined
      ? undefined
      : numberOption(options.batchSize, 0, 'replay.batchSize', 1);
  const memOptions = {
    size,
    policy: options.policy ?? 'reservoir',
    ...(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes }),
    ...(options.perExperience === undefined ? {} : { perExperience: options.perExperience }),
  };
  let mem = new OwnedMemory(memOptions, rng(seed, 'replay'));
  return {
    name: 'replay',
    trainsOnStream: true,
    augment(_ctx, batch, n) {
      const drawn = mem.buffer.sample(draw ?? n, mem.rng);
      if (!drawn) return { batch, n };
      return { batch: concatBatches([batch, drawn.batch], [n, drawn.n]), n: n + drawn.n };
    },
    observe(ctx, batch, n) {
      mem.buffer.add(batch, n, ctx.experience, mem.rng);
    },
    memoryReports: () => [mem.buffer.report()],
    getState: () => mem.state(),
    setState(state) {
      mem = mem.restore(state);
    },
    dispose: () => {},
  };
}
