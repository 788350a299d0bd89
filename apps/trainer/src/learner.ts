// The thin adapter between the training loop and @streams/cl: it turns a learner entry of the run
// config into a ContinualLearner (model spec, optimizer, composed strategies, mode), and gives the
// loop what it needs per step, per evaluation and per checkpoint.
import { createHash } from 'node:crypto';
import {
  type Batch,
  ContinualLearner,
  type LearnerOptions,
  type ModelSpec,
  type StrategyConfig,
} from '@streams/cl';
import { StreamsError, throwIfAborted } from '@streams/core';
import type { EvalResult, LearnerShape, StepResult } from './learnerTypes.js';
import type { LearnerConfig } from './runConfig.js';

/** A @streams/cl learner as the training loop drives it. */
export class Learner {
  readonly #cl: ContinualLearner;
  /** Model, optimizer and strategies in a few words, for the summary and the report. */
  readonly description: string;

  private constructor(cl: ContinualLearner) {
    this.#cl = cl;
    this.description = describe(cl);
  }

  /** A fresh learner for a config entry; the seed gives every learner of a run the same initial weights. */
  static create(cfg: LearnerConfig, shape: LearnerShape): Learner {
    return new Learner(new ContinualLearner(learnerOptions(cfg, shape)));
  }

  /** A learner restored from a directory written by {@link save}. */
  static async load(dir: string): Promise<Learner> {
    return new Learner(await ContinualLearner.load(dir));
  }

  /** What evaluations measure: accuracy for classifiers, loss for autoencoders. */
  get metric(): 'accuracy' | 'loss' {
    return this.#cl.model.task === 'classification' ? 'accuracy' : 'loss';
  }

  /** Opens experience `k`: strategies prepare for it. */
  beginExperience(k: number): Promise<void> {
    return this.#cl.beginExperience(k);
  }

  /** Closes the open experience: strategies consolidate (Fisher, importance, memory refits). */
  endExperience(): Promise<void> {
    return this.#cl.endExperience();
  }

  /** One step on one batch; with `measure`, the batch's accuracy before the update too. */
  async trainBatch(batch: Batch, options: { measure?: boolean } = {}): Promise<StepResult> {
    const b = this.#fit(batch);
    const accuracy = options.measure && this.metric === 'accuracy' ? await this.#accuracy(b) : null;
    const { loss } = await this.#cl.trainBatch(b);
    return { loss, samples: batch.x.length / this.#sampleSize, accuracy };
  }

  /** Loss (and accuracy) over every batch of a set. */
  async evaluate(
    batches: AsyncIterable<Batch>,
    options: { signal?: AbortSignal } = {},
  ): Promise<EvalResult> {
    const fit = (b: Batch) => this.#fit(b);
    const r = await this.#cl.evaluate(
      (async function* () {
        for await (const b of batches) {
          throwIfAborted(options.signal);
          yield fit(b);
        }
      })(),
    );
    return { accuracy: r.accuracy ?? null, loss: r.loss, count: r.count };
  }

  /** Writes the whole learner (weights, optimizer, strategy state and memories, RNG) into `dir`. */
  save(dir: string): Promise<void> {
    return this.#cl.save(dir);
  }

  /** SHA-256 of the model weights (equal weights, equal hash). */
  async weightsHash(): Promise<string> {
    const h = createHash('sha256');
    for (const p of this.#cl.model.params) {
      const d = (await p.variable.data()) as Float32Array;
      h.update(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
    }
    return h.digest('hex');
  }

  /** Memory of every strategy that keeps one: samples and bytes held. */
  memory(): Array<{ policy: string; size: number; capacity: number; bytes: number }> {
    return this.#cl.memory().map((m) => ({
      policy: m.policy,
      size: m.size,
      capacity: m.capacity,
      bytes: m.bytes,
    }));
  }

  /** Frees every tensor of the learner. */
  dispose(): void {
    this.#cl.dispose();
  }

  get #sampleSize(): number {
    return this.#cl.model.inputShape.reduce((a, b) => a * b, 1);
  }

  /** Autoencoders reconstruct their input: the labels the streams carry are not their targets. */
  #fit(batch: Batch): Batch {
    if (this.#cl.model.task !== 'reconstruction' || batch.y === undefined) return batch;
    const { y: _labels, ...rest } = batch;
    return rest;
  }

  async #accuracy(batch: Batch): Promise<number> {
    const logits = await this.#cl.predict(batch.x, batch.task ? { task: batch.task } : {});
    const y = batch.y as Int32Array;
    const c = logits.length / y.length;
    let correct = 0;
    for (let i = 0; i < y.length; i++) {
      let arg = 0;
      for (let k = 1; k < c; k++) if (logits[i * c + k]! > logits[i * c + arg]!) arg = k;
      if (arg === y[i]) correct++;
    }
    return y.length > 0 ? correct / y.length : 0;
  }
}

/** The ContinualLearner options of a config entry. */
export function learnerOptions(cfg: LearnerConfig, shape: LearnerShape): LearnerOptions {
  const { name: _name, ...opt } = cfg.optimizer;
  return {
    model: modelSpec(cfg, shape),
    optimizer: { name: cfg.optimizer.name, ...opt },
    strategy: cfg.strategy.map((s) => ({ ...s }) as StrategyConfig),
    mode: shape.mode,
    seed: shape.seed,
  };
}

/** The @streams/cl model spec of a config entry, its defaults filled in from the data's shape. */
export function modelSpec(cfg: LearnerConfig, shape: LearnerShape): ModelSpec {
  const m = cfg.model;
  const input = m.inputShape ?? shape.inputShape;
  const flat = input.reduce((a, b) => a * b, 1);
  const act = m.activation ? { activation: m.activation } : {};
  const out = m.outputActivation ? { outputActivation: m.outputActivation } : {};
  const classifier = {
    outputs: shape.numClasses,
    heads: shape.heads,
    ...act,
    ...(m.dropout ? { dropout: m.dropout } : {}),
  };
  switch (m.kind) {
    case 'mlp':
      return { kind: 'mlp', inputShape: flat, hidden: m.hidden ?? [256], ...classifier };
    case 'cnn':
      return {
        kind: 'cnn',
        inputShape: withChannel(cfg, input, 3) as [number, number, number],
        conv: m.conv ?? [{ filters: 16 }, { filters: 32 }],
        hidden: m.hidden ?? [],
        ...classifier,
      };
    case 'mlpAutoencoder':
      return {
        kind: 'mlpAutoencoder',
        inputShape: flat,
        hidden: m.hidden ?? [128, 32],
        ...act,
        ...out,
      };
    case 'conv2dAutoencoder':
      return {
        kind: 'conv2dAutoencoder',
        inputShape: withChannel(cfg, input, 3) as [number, number, number],
        filters: m.filters ?? [16, 32],
        ...(m.kernel ? { kernel: m.kernel } : {}),
        ...act,
        ...out,
      };
    case 'conv3dAutoencoder':
      return {
        kind: 'conv3dAutoencoder',
        inputShape: withChannel(cfg, input, 4) as [number, number, number, number],
        filters: m.filters ?? [8, 16],
        ...(m.kernel ? { kernel: m.kernel } : {}),
        ...act,
        ...out,
      };
  }
}

/** A convolution's input shape: the data's, with a channel of 1 added when it has none. */
function withChannel(cfg: LearnerConfig, shape: number[], rank: number): number[] {
  if (shape.length === rank) return shape;
  if (shape.length === rank - 1) return [...shape, 1];
  throw new StreamsError(
    'STREAMS_INVALID_CONFIG',
    `[streams/trainer] learner "${cfg.name}": model.kind ${cfg.model.kind} needs samples of ${rank - 1} dimensions plus channels, but the data's samples are [${shape.join(', ')}]`,
    {
      fix: `set learners[].model.inputShape to a shape of ${rank} numbers whose product is the sample size`,
    },
  );
}

function describe(cl: ContinualLearner): string {
  const spec = cl.config.model as ModelSpec;
  const o = cl.config.optimizer;
  const model =
    spec.kind === 'mlp' || spec.kind === 'mlpAutoencoder'
      ? `${spec.kind} ${[spec.inputShape, ...spec.hidden].flat().join('-')}${spec.kind === 'mlp' ? `-${spec.outputs}${(spec.heads ?? 1) > 1 ? `x${spec.heads} heads` : ''}` : ''}`
      : `${spec.kind} [${[spec.inputShape].flat().join(', ')}]`;
  const strategies = cl.strategies.map((s) => s.name).join(' + ') || 'naive';
  return `${model}, ${o.name} lr ${o.lr}, ${strategies}`;
}
