// The narrow learner interface the training loop drives. It has the shape of @streams/cl's
// ContinualLearner (trainExperience / evaluate / save / load), so wiring cl in is a thin adapter;
// until then the builtin softmax-regression learner implements it.
import { StreamsError } from '@streams/core';
import { BuiltinLearner } from './builtinLearner.js';
import type { LearnerConfig } from './runConfig.js';

export type {
  Batch,
  EvalResult,
  Learner,
  LearnerShape,
  StepInfo,
  TrainExperienceOptions,
} from './learnerTypes.js';

import type { Learner, LearnerShape } from './learnerTypes.js';

function needsCl(cfg: LearnerConfig, what: string): StreamsError {
  return new StreamsError(
    'STREAMS_NOT_IMPLEMENTED',
    `[streams/trainer] learner "${cfg.name}": ${what} needs the @streams/cl learners, which are not wired into the trainer yet`,
    { fix: 'use backend: builtin with model.kind linear and strategy naive or replay' },
  );
}

/** Throws for a learner config this build cannot train (before any data is touched). */
export function assertSupported(cfg: LearnerConfig): void {
  if (cfg.backend !== 'builtin') throw needsCl(cfg, `backend "${cfg.backend}"`);
  if (cfg.model.kind !== 'linear') throw needsCl(cfg, `model.kind "${cfg.model.kind}"`);
  if (cfg.optimizer.name !== 'sgd') throw needsCl(cfg, `optimizer "${cfg.optimizer.name}"`);
  for (const s of cfg.strategy)
    if (s.name !== 'naive' && s.name !== 'replay') throw needsCl(cfg, `strategy "${s.name}"`);
}

/** A fresh learner for a config entry. */
export async function createLearner(cfg: LearnerConfig, shape: LearnerShape): Promise<Learner> {
  assertSupported(cfg);
  return BuiltinLearner.create(cfg, shape);
}

/** A learner restored from a directory written by {@link Learner.save}. */
export async function loadLearner(cfg: LearnerConfig, dir: string): Promise<Learner> {
  assertSupported(cfg);
  return BuiltinLearner.load(dir);
}
