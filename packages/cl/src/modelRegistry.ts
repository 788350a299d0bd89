import { StreamsError } from '@streams/core';
import { type CnnSpec, cnn } from './models/cnn.js';
import { type Conv2dAutoencoderSpec, conv2dAutoencoder } from './models/conv2dAutoencoder.js';
import { type Conv3dAutoencoderSpec, conv3dAutoencoder } from './models/conv3dAutoencoder.js';
import { type MlpSpec, mlp } from './models/mlp.js';
import { type MlpAutoencoderSpec, mlpAutoencoder } from './models/mlpAutoencoder.js';
import type { Model, ModelSpecBase } from './models/model.js';

/** The built-in model specs. Your own families register with {@link registerModel}. */
export type ModelSpec =
  | MlpSpec
  | CnnSpec
  | MlpAutoencoderSpec
  | Conv2dAutoencoderSpec
  | Conv3dAutoencoderSpec;

/** Makes a model from its spec; `seed` fixes the initial weights. */
// biome-ignore lint/suspicious/noExplicitAny: factories take their own spec type
export type ModelFactory = (spec: any, seed: number) => Model;

const factories = new Map<string, ModelFactory>([
  ['mlp', mlp],
  ['cnn', cnn],
  ['mlpAutoencoder', mlpAutoencoder],
  ['conv2dAutoencoder', conv2dAutoencoder],
  ['conv3dAutoencoder', conv3dAutoencoder],
]);

/** Registers a model family under `kind` (replacing any previous one). */
export function registerModel(kind: string, factory: ModelFactory): void {
  factories.set(kind, factory);
}

/** The registered model kinds. */
export function modelKinds(): string[] {
  return [...factories.keys()];
}

/** Builds a model from its spec, with xavier-initialized weights drawn for `seed` (default 0). */
export function createModel(
  spec: ModelSpec | ModelSpecBase,
  options: { seed?: number } = {},
): Model {
  const factory = factories.get(spec?.kind);
  if (!factory) {
    throw new StreamsError(
      'STREAMS_INVALID_CONFIG',
      `[streams/cl] unknown model kind "${spec?.kind}"`,
      {
        fix: `use one of ${modelKinds().join(', ')}, or registerModel() your own first`,
      },
    );
  }
  return factory(spec, options.seed ?? 0);
}
