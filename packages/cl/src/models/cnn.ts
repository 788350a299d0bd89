import { activationOf, denseStack, positiveInt, StackModel, shapeOf } from './base.js';
import type { Activation, LayerFactory, Padding } from './layers.js';
import { conv2d, dense, maxPool2d } from './layers.js';
import type { Model } from './model.js';

/** One convolution block of a {@link CnnSpec}. */
export interface CnnBlock {
  filters: number;
  /** Square kernel size (default 3). */
  kernel?: number;
  stride?: number;
  padding?: Padding;
  /** Max-pooling size after the convolution (default 2; 1 for none). */
  pool?: number;
}

/** A convolutional classifier on `[height, width, channels]` images. */
export interface CnnSpec {
  kind: 'cnn';
  inputShape: [number, number, number];
  conv: CnnBlock[];
  /** Dense layer widths after the convolutions (default none). */
  hidden?: number[];
  outputs: number;
  heads?: number;
  activation?: Activation;
  dropout?: number;
  task?: 'classification' | 'regression';
}

/** Builds a {@link CnnSpec} model. */
export function cnn(spec: CnnSpec, seed: number): Model {
  const inputShape = shapeOf(spec.inputShape, 'inputShape', 'cnn', 3);
  const outputs = positiveInt(spec.outputs, 'outputs', 'cnn');
  const heads = positiveInt(spec.heads ?? 1, 'heads', 'cnn');
  const activation = activationOf(spec.activation, 'cnn.activation', 'relu');
  const layers: LayerFactory[] = [];
  (spec.conv ?? []).forEach((b, i) => {
    const filters = positiveInt(b.filters, `conv[${i}].filters`, 'cnn');
    const kernel = b.kernel ?? 3;
    layers.push(
      conv2d({ filters, kernel, stride: b.stride ?? 1, padding: b.padding ?? 'same', activation }),
    );
    if ((b.pool ?? 2) > 1) layers.push(maxPool2d(b.pool ?? 2));
  });
  layers.push(...denseStack(spec.hidden, activation, spec.dropout ?? 0, 'cnn'));
  layers.push(dense(outputs * heads));
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
