/** Passed to `onStep` after every optimizer step. */
export interface StepInfo {
  experience: number;
  epoch: number;
  /** Index of the batch in this epoch (0-based). */
  batch: number;
  /** Optimizer steps so far (all experiences). */
  step: number;
  /** The loss of the step (task loss plus penalties), or null when the strategy trains only at the experience end. */
  loss: number | null;
  /** Rows of the stream batch. */
  samples: number;
  /** Rows trained on, including replayed ones. */
  trainedSamples: number;
}

/** Options of {@link ContinualLearner.trainExperience}. */
export interface TrainExperienceOptions {
  /** The experience id (default: the next one; a learner loaded mid-experience continues it). */
  experience?: number;
  /** Passes over `batches` (default 1); more than one needs an array or a function returning a fresh iterable. */
  epochs?: number;
  /** Checked between steps; aborting leaves the learner at a step boundary, ready to save. */
  signal?: AbortSignal;
  /** Called after each step; may return a promise (e.g. to save a checkpoint). */
  onStep?(info: StepInfo): void | Promise<void>;
  /**
   * When resuming mid-epoch: true if `batches` already starts where training stopped (a dataset
   * restored from its own state); false (default) skips the batches already trained.
   */
  dataResumed?: boolean;
}

/** Loss and accuracy of a set of samples. */
export interface EvalMetrics {
  /** Mean task loss (cross-entropy, or squared error for regression and autoencoders). */
  loss: number;
  /** Share of correct classes (classifiers only). */
  accuracy?: number;
  count: number;
}

/** What {@link ContinualLearner.evaluate} returns. */
export interface EvalResult extends EvalMetrics {
  /** Per task id, when the batches carry task ids. */
  perTask: Record<number, EvalMetrics>;
  /** Rows: true class, columns: predicted class (with `{ confusion: true }`). */
  confusion?: number[][];
}

/** Where a learner is in its experiences (saved in checkpoints). */
export interface LearnerProgress {
  /** The current or last experience id (-1 before the first). */
  experience: number;
  inExperience: boolean;
  /** Epochs finished in the current experience. */
  epoch: number;
  /** Batches trained in the current epoch. */
  batch: number;
  /** Optimizer steps so far. */
  step: number;
  /** Experience ids finished, in order. */
  finished: number[];
}
