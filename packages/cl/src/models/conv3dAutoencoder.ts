import { AutoencoderModel, convAutoencoderSpec } from './base.js';
import type { Activation, LayerFactory } from './layers.js';
import { conv3d, upsample3d } from './layers.js';
import type { Model } from './model.js';

/** A convolutional autoencoder for 3D fields `[depth, height, width, channels]` (simulation volumes). */
export interface Conv3dAutoencoderSpec {
  kind: 'conv3dAutoencoder';
  inputShape: [number, number, number, number];
  /** Filters of each stride-2 encoder convolution (halves every spatial size; the decoder upsamples back). */
  filters: number[];
  kernel?: number;
  activation?: Activation;
  outputActivation?: Activation;
}

/** Builds a {@link Conv3dAutoencoderSpec} model. */
export function conv3dAutoencoder(spec: Conv3dAutoencoderSpec, seed: number): Model {
  const { inputShape, filters, kernel, activation, outAct } = convAutoencoderSpec(
    spec,
    'conv3dAutoencoder',
    4,
  );
  const encoder: LayerFactory[] = filters.map((f) =>
    conv3d({ filters: f, kernel, stride: 2, padding: 'same', activation }),
  );
  // Each decoder stage: upsample by 2, then a stride-1 convolution (see upsample3d for why).
  const decoder = (): LayerFactory[] => [
    ...filters
      .slice(0, -1)
      .reverse()
      .flatMap((f) => [
        upsample3d(),
        conv3d({ filters: f, kernel, stride: 1, padding: 'same', activation }),
      ]),
    upsample3d(),
    conv3d({ filters: inputShape[3]!, kernel, stride: 1, padding: 'same', activation: outAct }),
  ];
  return new AutoencoderModel(spec, inputShape, encoder, decoder, seed);
}
