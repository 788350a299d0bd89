import { AutoencoderModel, activationOf, positiveInt, shapeOf } from './base.js';
import type { Activation, LayerFactory } from './layers.js';
import { dense, reshape } from './layers.js';
import type { Model } from './model.js';

/** A dense autoencoder: encoder widths down to the code, the decoder mirrors them. */
export interface MlpAutoencoderSpec {
  kind: 'mlpAutoencoder';
  inputShape: number | number[];
  /** Encoder widths; the last one is the code size, e.g. `[128, 16]`. */
  hidden: number[];
  activation?: Activation;
  /** Activation of the reconstruction (default `linear`; `sigmoid` for inputs in [0, 1]). */
  outputActivation?: Activation;
}

/** Builds an {@link MlpAutoencoderSpec} model. */
export function mlpAutoencoder(spec: MlpAutoencoderSpec, seed: number): Model {
  const kind = 'mlpAutoencoder';
  const inputShape = shapeOf(spec.inputShape, 'inputShape', kind);
  const widths = (spec.hidden ?? []).map((w, i) => positiveInt(w, `hidden[${i}]`, kind));
  if (widths.length === 0) positiveInt(undefined, 'hidden[0]', kind);
  const activation = activationOf(spec.activation, `${kind}.activation`, 'relu');
  const outAct = activationOf(spec.outputActivation, `${kind}.outputActivation`, 'linear');
  const size = inputShape.reduce((a, b) => a * b, 1);
  const encoder: LayerFactory[] = widths.map((w, i) =>
    dense(w, i === widths.length - 1 ? 'linear' : activation),
  );
  const decoder = (): LayerFactory[] => [
    ...widths
      .slice(0, -1)
      .reverse()
      .map((w) => dense(w, activation)),
    dense(size, outAct),
    reshape(inputShape),
  ];
  return new AutoencoderModel(spec, inputShape, encoder, decoder, seed);
}
