import { rng } from '@streams/core';
import { concatBatches } from '../batch.js';
import type { Strategy } from '../strategy.js';
import {
  type ChosenMemoryOptions,
  chosenMemoryOptions,
  numberOption,
  StrategyMemory,
} from './util.js';

/** Options of experience replay (memory policy default `reservoir`). */
export interface ReplayOptions extends ChosenMemoryOptions {
  /** Memory samples drawn into each batch (default: as many as the batch has). */
  batchSize?: number;
}

/**
 * Experience replay: every stream batch is joined by a uniform draw from an episodic memory that
 * is updated online from the stream (so it holds a bounded sample of everything seen).
 */
export function replay(options: ReplayOptions = {}, seed = 0): Strategy {
  const draw =
    options.batchSize === undefined
      ? undefined
      : numberOption(options.batchSize, 0, 'replay.batchSize', 1);
  const mem = new StrategyMemory(
    chosenMemoryOptions(options, 'replay', 'reservoir'),
    rng(seed, 'replay'),
  );
  return {
    name: 'replay',
    trainsOnStream: true,
    augment(_ctx, batch, n) {
      const drawn = mem.buffer.sample(draw ?? n, mem.rng);
      if (!drawn) return { batch, n };
      // Unweighted stream batches and a draw of unit weights make an unweighted batch: the same
      // mean loss, without the weighted reduction's ops on the tape.
      const w = drawn.batch.weight;
      const unweighted = !batch.weight && (!w || w.every((v) => v === 1));
      const joined = concatBatches(
        [batch, unweighted ? { ...drawn.batch, weight: undefined } : drawn.batch],
        [n, drawn.n],
      );
      return { batch: joined, n: n + drawn.n };
    },
    ...mem.hooks(),
  };
}
