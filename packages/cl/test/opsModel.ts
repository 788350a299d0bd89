// Small models written directly in tfjs ops, shared by the backend conformance suite and the
// backend benchmark: they need nothing but a backend, and start from the same numbers on each.
import { rng } from '@streams/core';
import * as tf from '@tensorflow/tfjs-core';

/** A model in plain tfjs ops: parameter shapes, input shapes (`classes`: int labels) and loss. */
export interface OpsModel {
  params: Record<string, number[]>;
  inputs: Record<string, { shape: number[]; classes?: number }>;
  loss(p: Record<string, tf.Variable>, x: Record<string, tf.Tensor>): tf.Scalar;
}

/**
 * Variables and one batch of `model` on the active backend, drawn from `seed`: the same values
 * on every backend (weights uniform within +-sqrt(2 / fan-in), biases within +-0.1).
 */
export function instantiate(model: OpsModel, seed: number) {
  const r = rng(seed, 'ops-model');
  const params: Record<string, tf.Variable> = {};
  for (const [name, shape] of Object.entries(model.params)) {
    const scale = shape.length > 1 ? Math.sqrt(2 / tf.util.sizeFromShape(shape.slice(0, -1))) : 0.1;
    const size = tf.util.sizeFromShape(shape);
    params[name] = tf.variable(
      tf.tensor(
        Float32Array.from({ length: size }, () => (r.float() * 2 - 1) * scale),
        shape,
      ),
    );
  }
  const inputs: Record<string, tf.Tensor> = {};
  for (const [name, { shape, classes }] of Object.entries(model.inputs)) {
    const size = tf.util.sizeFromShape(shape);
    inputs[name] =
      classes === undefined
        ? tf.tensor(
            Float32Array.from({ length: size }, () => r.float()),
            shape,
          )
        : tf.tensor(
            Int32Array.from({ length: size }, () => r.int(classes)),
            shape,
            'int32',
          );
  }
  return {
    params,
    inputs,
    /** One optimizer step; resolves to its loss. */
    async step(optimizer: tf.Optimizer): Promise<number> {
      const loss = optimizer.minimize(
        () => model.loss(params, inputs),
        true,
        Object.values(params),
      )!;
      const value = (await loss.data())[0]!;
      loss.dispose();
      return value;
    },
    dispose: () => tf.dispose([...Object.values(params), ...Object.values(inputs)]),
  };
}
