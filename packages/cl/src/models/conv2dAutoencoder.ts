import { AutoencoderModel, convAutoencoderSpec } from './base.js';
import type { Activation, LayerFactory } from './layers.js';
import { conv2d, conv2dTranspose } from './layers.js';
import type { Model } from './model.js';

/** A convolutional autoencoder for 2D fields and images `[height, width, channels]`. */
export interface Conv2dAutoencoderSpec {
  kind: 'conv2dAutoencoder';
  inputShape: [number, number, number];
  /** Filters of each stride-2 encoder convolution, e.g. `[16, 32]` (halves height and width each). */
  filters: number[];
  /** Square kernel size (default 3). */
  kernel?: number;
  activation?: Activation;
  outputActivation?: Activation;
}

/** Builds a {@link Conv2dAutoencoderSpec} model. */
export function conv2dAutoencoder(spec: Conv2dAutoencoderSpec, seed: number): Model {
  const { inputShape, filters, kernel, activation, outAct } = convAutoencoderSpec(
    spec,
    'conv2dAutoencoder',
    3,
  );
  const encoder: LayerFactory[] = filters.map((f) =>
    conv2d({ filters: f, kernel, stride: 2, padding: 'same', activation }),
  );
  const decoder = (): LayerFactory[] => [
    ...filters
      .slice(0, -1)
      .reverse()
      .map((f) => conv2dTranspose({ filters: f, kernel, stride: 2, padding: 'same', activation })),
    conv2dTranspose({
      filters: inputShape[2]!,
      kernel,
      stride: 2,
      padding: 'same',
      activation: outAct,
    }),
  ];
  return new AutoencoderModel(spec, inputShape, encoder, decoder, seed);
}
