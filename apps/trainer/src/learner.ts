// The narrow learner interface the training loop drives. It has the shape of @streams/cl's
// ContinualLearner (trainExperience / evaluate / save / load), so wiring cl in is a thin adapter;
// until then the builtin softmax-regression learner implements it.
import { StreamsError } from '@streams/core';
import { BuiltinLearner } from './builtinLearner.js';
import type { LearnerConfig } from './runConfig.js';

/** A training or evaluation batch: typed arrays, no per-sample objects (the shape of cl's Batch). */
export interface Batch {
  x: Float32Array; // [batch, inputSize]
  y: Int32Array; // [batch]
  weight?: Float32Array; // [batch]
  /** Task (head) of each sample, for task-incremental learning. */
  task?: Int32Array; // [batch]
}

/** What a learner reports after each training step. */
export interface StepInfo {
  loss: number;
  /** Samples of the batch (without any replayed from memory). */
  samples: number;
  /** Accuracy on the batch before the update. */
  accuracy: number;
}

export interface TrainExperienceOptions {
  experience: number;
  /** Passes over `batches` (each iteration of it is one epoch). */
  epochs: number;
  /** True when resuming an experience already started: experience-start hooks do not run again. */
  continuing?: boolean;
  signal?: AbortSignal;
  /** Awaited after each step: the trainer logs, checkpoints or stops there. */
  onStep?: (step: StepInfo) => void | Promise<void>;
}

export interface EvalResult {
  accuracy: number;
  loss: number;
  count: number;
}

/** Input size, class count, heads and seed: what a learner needs to build its model. */
export interface LearnerShape {
  inputSize: number;
  numClasses: number;
  heads: number;
  seed: number;
}

/** A continual learner as the trainer sees it. */
export interface Learner {
  /** Backend and model, for the report (e.g. "builtin softmax regression (js)"). */
  readonly description: string;
  trainExperience(batches: AsyncIterable<Batch>, options: TrainExperienceOptions): Promise<void>;
  evaluate(batches: AsyncIterable<Batch>, options?: { signal?: AbortSignal }): Promise<EvalResult>;
  /** Writes the whole learner state (model, optimizer, strategy memory, RNG) into `dir`. */
  save(dir: string): Promise<void>;
  /** SHA-256 of the model weights (equal weights, equal hash). */
  weightsHash(): Promise<string>;
}

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
