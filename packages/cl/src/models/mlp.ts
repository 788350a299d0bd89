import { activationOf, denseStack, positiveInt, StackModel, shapeOf } from './base.js';
import { type Activation, dense } from './layers.js';
import type { Model } from './model.js';

/** A multilayer perceptron: flat input, hidden dense layers, one linear output layer per head. */
export interface MlpSpec {
  kind: 'mlp';
  /** One sample's shape (flattened on input), e.g. `784` or `[28, 28]`. */
  inputShape: number | number[];
  /** Hidden layer widths, e.g. `[256, 256]`. */
  hidden: number[];
  /** Classes (classification) or target values (regression) per head. */
  outputs: number;
  /** Output heads for task-incremental multi-head training (default 1). */
  heads?: number;
  /** Hidden activation (default `relu`). */
  activation?: Activation;
  /** Dropout rate after each hidden layer (default 0). */
  dropout?: number;
  /** `classification` (cross-entropy on logits, the default) or `regression` (mean squared error). */
  task?: 'classification' | 'regression';
}

/** Builds an {@link MlpSpec} model. */
export function mlp(spec: MlpSpec, seed: number): Model {
  const inputShape = shapeOf(spec.inputShape, 'inputShape', 'mlp');
  const outputs = positiveInt(spec.outputs, 'outputs', 'mlp');
  const heads = positiveInt(spec.heads ?? 1, 'heads', 'mlp');
  const activation = activationOf(spec.activation, 'mlp.activation', 'relu');
  const layers = [
    ...denseStack(spec.hidden, activation, spec.dropout ?? 0, 'mlp'),
    dense(outputs * heads),
  ];
  return new StackModel(
    spec,
    spec.task ?? 'classification',
    inputShape,
    outputs,
    heads,
    layers,
    seed,
  );
}
