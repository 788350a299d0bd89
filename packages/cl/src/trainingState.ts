// The trained part of a learner's state as named arrays and JSON: the model's parameters, the
// optimizer's step and slots, and each strategy's state (memories included). The learner adds
// its progress, PRNG and seen classes and tasks around it; checkpoint.ts writes it to disk.

import { StreamsError } from '@streams/core';
import * as tf from '@tensorflow/tfjs-core';
import type { Model } from './models/model.js';
import type { Optimizer } from './optimizer.js';
import type { SavedState, StateArrays, Strategy, StrategyContext } from './strategy.js';

/** What holds the trained state. */
export interface TrainedParts {
  model: Model;
  optimizer: Optimizer;
  strategies: readonly Strategy[];
  /** The context strategies restore their state with. */
  context: StrategyContext;
}

/** The JSON half of the trained state (the rest is in the arrays). */
export interface TrainedMeta {
  optimizerStep: number;
  optimizerSlots: number;
  strategies: unknown[];
}

/** Reads the parameters, optimizer and strategy states as `param.i`, `optimizer.i`, `strategy.i.*` arrays. */
export async function captureTrainedState(
  parts: TrainedParts,
): Promise<{ meta: TrainedMeta; arrays: StateArrays }> {
  const arrays: StateArrays = {};
  const params = await Promise.all(
    parts.model.params.map((p) => p.variable.data() as Promise<Float32Array>),
  );
  params.forEach((d, i) => {
    arrays[`param.${i}`] = d;
  });
  const opt = await parts.optimizer.getState();
  opt.slots.forEach((d, i) => {
    arrays[`optimizer.${i}`] = d;
  });
  const strategies: unknown[] = [];
  for (const [i, s] of parts.strategies.entries()) {
    const st = await s.getState();
    strategies.push(st.meta);
    for (const [k, v] of Object.entries(st.arrays)) arrays[`strategy.${i}.${k}`] = v;
  }
  return {
    meta: { optimizerStep: opt.step, optimizerSlots: opt.slots.length, strategies },
    arrays,
  };
}

/** Restores {@link captureTrainedState}'s output; refuses missing arrays and parameters of another size. */
export function restoreTrainedState(
  parts: TrainedParts,
  meta: TrainedMeta,
  arrays: StateArrays,
): void {
  const need = (name: string): Float32Array => {
    const a = arrays[name];
    if (!(a instanceof Float32Array)) {
      throw new StreamsError('STREAMS_STATE_INVALID', `[streams/cl] the checkpoint lacks ${name}`, {
        fix: 'save it again with this version',
      });
    }
    return a;
  };
  tf.tidy(() => {
    parts.model.params.forEach((p, i) => {
      const a = need(`param.${i}`);
      if (a.length !== p.variable.size) {
        throw new StreamsError(
          'STREAMS_STATE_INVALID',
          `[streams/cl] saved parameter ${i} has ${a.length} values, the model's ${p.name} has ${p.variable.size}`,
          {
            fix: 'load the checkpoint with the model spec it was saved with',
          },
        );
      }
      p.variable.assign(tf.tensor(a, p.variable.shape));
    });
  });
  parts.optimizer.setState({
    step: meta.optimizerStep,
    slots: Array.from({ length: meta.optimizerSlots }, (_, i) => need(`optimizer.${i}`)),
  });
  parts.strategies.forEach((s, i) => {
    const prefix = `strategy.${i}.`;
    const own: StateArrays = {};
    for (const [k, v] of Object.entries(arrays))
      if (k.startsWith(prefix)) own[k.slice(prefix.length)] = v;
    s.setState({ meta: meta.strategies[i], arrays: own } satisfies SavedState, parts.context);
  });
}
