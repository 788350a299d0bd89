import type { Strategy } from '../strategy.js';

/** Naive fine-tuning: plain SGD on each experience in turn (the lower bound). */
export function naive(): Strategy {
  return {
    name: 'naive',
    trainsOnStream: true,
    getState: () => ({ meta: null, arrays: {} }),
    setState: () => {},
    dispose: () => {},
  };
}
