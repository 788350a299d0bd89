// The narrow learner interface the training loop drives, in a module of its own so that learners
// and the factory in learner.ts both import it without a cycle.

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
