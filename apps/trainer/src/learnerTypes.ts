// The types the training loop and the learner adapter share, in a module that imports no
// implementation (so nothing that needs them forms an import cycle with learner.ts).

/** What the data tells a learner about its model: sample shape, classes, heads, mode and seed. */
export interface LearnerShape {
  /** One sample's shape as the data holds it, e.g. [28, 28] or [784]. */
  inputShape: number[];
  numClasses: number;
  /** Output heads (one per task in task-incremental learning). */
  heads: number;
  mode: 'class-incremental' | 'task-incremental';
  seed: number;
}

/** What one training step reports. */
export interface StepResult {
  /** Loss of the step, or null for strategies that train only at the experience end (GDumb, joint). */
  loss: number | null;
  /** Samples of the stream batch (replayed ones not counted). */
  samples: number;
  /** Accuracy on the batch before the update, when asked for and the model classifies. */
  accuracy: number | null;
}

/** Loss of a set, and its accuracy when the model classifies. */
export interface EvalResult {
  accuracy: number | null;
  loss: number;
  count: number;
}
