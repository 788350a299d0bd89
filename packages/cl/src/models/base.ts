import { StreamsError } from '@streams/core';
import * as tf from '@tensorflow/tfjs-core';
import {
  type Activation,
  checkActivation,
  dense,
  dropout,
  type LayerFactory,
  Sequential,
} from './layers.js';
import type { ApplyOptions, Model, ModelSpecBase, ModelTask, Param } from './model.js';

/** Throws STREAMS_INVALID_CONFIG unless `value` is a positive integer. */
export function positiveInt(value: unknown, field: string, kind: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new StreamsError(
      'STREAMS_INVALID_CONFIG',
      `[streams/cl] model "${kind}": ${field} must be a positive integer, got ${JSON.stringify(value)}`,
      { fix: `set ${field} to an integer >= 1` },
    );
  }
  return value;
}

/** A per-sample shape from a spec: a number is a flat vector. */
export function shapeOf(value: unknown, field: string, kind: string, rank?: number): number[] {
  const shape = typeof value === 'number' ? [value] : value;
  if (!Array.isArray(shape) || (rank !== undefined && shape.length !== rank)) {
    throw new StreamsError(
      'STREAMS_INVALID_CONFIG',
      `[streams/cl] model "${kind}": ${field} must be ${rank === undefined ? 'a shape' : `a shape of rank ${rank}`}, got ${JSON.stringify(value)}`,
    );
  }
  return shape.map((d, i) => positiveInt(d, `${field}[${i}]`, kind));
}

/** An activation from a spec, with a default. */
export function activationOf(value: unknown, field: string, fallback: Activation): Activation {
  return value === undefined ? fallback : checkActivation(String(value), field);
}

/** Hidden dense layers of `widths`, each followed by dropout when `rate > 0`. */
export function denseStack(
  widths: readonly number[] | undefined,
  activation: Activation,
  rate: number,
  kind: string,
): LayerFactory[] {
  return (widths ?? []).flatMap((width, i) => {
    const layer = dense(positiveInt(width, `hidden[${i}]`, kind), activation);
    return rate > 0 ? [layer, dropout(rate)] : [layer];
  });
}

/** The fields both convolutional autoencoders read from their spec. */
export function convAutoencoderSpec(
  spec: {
    inputShape: unknown;
    filters?: unknown;
    kernel?: unknown;
    activation?: unknown;
    outputActivation?: unknown;
  },
  kind: string,
  rank: number,
): {
  inputShape: number[];
  filters: number[];
  kernel: number;
  activation: Activation;
  outAct: Activation;
} {
  const filters = ((spec.filters as unknown[]) ?? []).map((f, i) =>
    positiveInt(f, `filters[${i}]`, kind),
  );
  if (filters.length === 0) positiveInt(undefined, 'filters[0]', kind);
  return {
    inputShape: shapeOf(spec.inputShape, 'inputShape', kind, rank),
    filters,
    kernel: positiveInt(spec.kernel ?? 3, 'kernel', kind),
    activation: activationOf(spec.activation, `${kind}.activation`, 'relu'),
    outAct: activationOf(spec.outputActivation, `${kind}.outputActivation`, 'linear'),
  };
}

/** A classifier or regressor made of one layer stack ending in `heads * outputs` units. */
export class StackModel implements Model {
  readonly params: readonly Param[];
  private readonly net: Sequential;

  constructor(
    readonly spec: ModelSpecBase,
    readonly task: ModelTask,
    readonly inputShape: readonly number[],
    readonly outputSize: number,
    readonly heads: number,
    layers: readonly LayerFactory[],
    seed: number,
  ) {
    this.net = new Sequential(inputShape, layers, 'l', seed);
    this.params = this.net.params;
  }

  forward(x: tf.Tensor, options: ApplyOptions = {}, values?: readonly tf.Tensor[]): tf.Tensor2D {
    const input = tf.reshape(x, [x.shape[0]!, ...this.inputShape]);
    const out = this.net.apply(values ?? this.params.map((p) => p.variable), input, options);
    return tf.reshape(out, [x.shape[0]!, this.heads * this.outputSize]);
  }

  forwardGroups(
    x: tf.Tensor,
    groups: number,
    values: readonly tf.Tensor[],
    options: ApplyOptions = {},
  ): tf.Tensor2D {
    const input = tf.reshape(x, [x.shape[0]!, ...this.inputShape]);
    const out = this.net.applyGroups(values, input, groups, options);
    return tf.reshape(out, [x.shape[0]!, this.heads * this.outputSize]);
  }

  init(seed: number): void {
    this.net.init(seed);
  }

  dispose(): void {
    this.net.dispose();
  }
}

/** An encoder and a decoder; `forward` gives the flat reconstruction `[batch, prod(inputShape)]`. */
export class AutoencoderModel implements Model {
  readonly task = 'reconstruction' as const;
  readonly heads = 1;
  readonly outputSize: number;
  readonly params: readonly Param[];
  private readonly encoder: Sequential;
  private readonly decoder: Sequential;

  constructor(
    readonly spec: ModelSpecBase,
    readonly inputShape: readonly number[],
    encoder: readonly LayerFactory[],
    decoder: (codeShape: readonly number[]) => readonly LayerFactory[],
    seed: number,
  ) {
    this.encoder = new Sequential(inputShape, encoder, 'enc', seed);
    this.decoder = new Sequential(
      this.encoder.outShape,
      decoder(this.encoder.outShape),
      'dec',
      seed + 1,
    );
    const out = this.decoder.outShape;
    if (out.join() !== inputShape.join()) {
      throw new StreamsError(
        'STREAMS_INVALID_CONFIG',
        `[streams/cl] model "${spec.kind}": the decoder gives [${out}] for an input of [${inputShape}]`,
        { fix: 'use input sizes divisible by 2 for every stride-2 layer' },
      );
    }
    this.outputSize = inputShape.reduce((a, b) => a * b, 1);
    this.params = [...this.encoder.params, ...this.decoder.params];
  }

  forward(x: tf.Tensor, options: ApplyOptions = {}, values?: readonly tf.Tensor[]): tf.Tensor2D {
    const v = values ?? this.params.map((p) => p.variable);
    const n = this.encoder.params.length;
    const code = this.encoder.apply(v.slice(0, n), this.reshapeInput(x), options);
    const out = this.decoder.apply(v.slice(n), code, options);
    return tf.reshape(out, [x.shape[0]!, this.outputSize]);
  }

  forwardGroups(
    x: tf.Tensor,
    groups: number,
    values: readonly tf.Tensor[],
    options: ApplyOptions = {},
  ): tf.Tensor2D {
    const n = this.encoder.params.length;
    const code = this.encoder.applyGroups(
      values.slice(0, n),
      this.reshapeInput(x),
      groups,
      options,
    );
    const out = this.decoder.applyGroups(values.slice(n), code, groups, options);
    return tf.reshape(out, [x.shape[0]!, this.outputSize]);
  }

  encode(x: tf.Tensor): tf.Tensor {
    return this.encoder.apply(
      this.encoder.params.map((p) => p.variable),
      this.reshapeInput(x),
      {},
    );
  }

  decode(z: tf.Tensor): tf.Tensor {
    return this.decoder.apply(
      this.decoder.params.map((p) => p.variable),
      z,
      {},
    );
  }

  init(seed: number): void {
    this.encoder.init(seed);
    this.decoder.init(seed + 1);
  }

  dispose(): void {
    this.encoder.dispose();
    this.decoder.dispose();
  }

  private reshapeInput(x: tf.Tensor): tf.Tensor {
    return tf.reshape(x, [x.shape[0]!, ...this.inputShape]);
  }
}
