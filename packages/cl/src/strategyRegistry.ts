import { StreamsError } from '@streams/core';
import { type AgemOptions, agem } from './strategies/agem.js';
import { type EwcOptions, ewc } from './strategies/ewc.js';
import { type GdumbOptions, gdumb } from './strategies/gdumb.js';
import { type GemOptions, gem } from './strategies/gem.js';
import { type JointOptions, joint } from './strategies/joint.js';
import { type LwfOptions, lwf } from './strategies/lwf.js';
import { naive } from './strategies/naive.js';
import { type ReplayOptions, replay } from './strategies/replay.js';
import { type SiOptions, si } from './strategies/si.js';
import type { Strategy, StrategyFactory } from './strategy.js';

/** A strategy and its options as JSON, e.g. `{ name: 'ewc', lambda: 100 }`. */
export type StrategyConfig =
  | { name: 'naive' }
  | ({ name: 'joint' } & JointOptions)
  | ({ name: 'ewc' } & EwcOptions)
  | ({ name: 'si' } & SiOptions)
  | ({ name: 'lwf' } & LwfOptions)
  | ({ name: 'agem' } & AgemOptions)
  | ({ name: 'gem' } & GemOptions)
  | ({ name: 'replay' } & ReplayOptions)
  | ({ name: 'gdumb' } & GdumbOptions)
  | { name: string; [option: string]: unknown };

const factories = new Map<string, StrategyFactory>([
  ['naive', naive],
  ['joint', joint],
  ['ewc', ewc],
  ['si', si],
  ['lwf', lwf],
  ['agem', agem],
  ['gem', gem],
  ['replay', replay],
  ['gdumb', gdumb],
]);

/** Registers a strategy under `name` (replacing any previous one). */
export function registerStrategy(name: string, factory: StrategyFactory): void {
  factories.set(name, factory);
}

/** The registered strategy names. */
export function strategyNames(): string[] {
  return [...factories.keys()];
}

/** Makes a registered strategy; `seed` keys its random choices (memory sampling). */
export function createStrategy(name: string, options: object = {}, seed = 0): Strategy {
  const factory = factories.get(name);
  if (!factory) {
    throw new StreamsError('STREAMS_INVALID_CONFIG', `[streams/cl] unknown strategy "${name}"`, {
      fix: `use one of ${strategyNames().join(', ')}, or registerStrategy() your own first`,
    });
  }
  return factory(options, seed);
}
