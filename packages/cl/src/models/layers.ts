import { type Rng, rng, StreamsError } from '@streams/core';
import * as tf from '@tensorflow/tfjs-core';
import type { ApplyOptions, Param } from './model.js';

/** Activations a layer can apply after its linear part. */
export type Activation = 'linear' | 'relu' | 'tanh' | 'sigmoid' | 'elu' | 'selu' | 'leakyRelu';

/** Padding of convolutions and pooling, as in TensorFlow. */
export type Padding = 'same' | 'valid';

interface ParamDef {
  name: string;
  shape: number[];
  /** Xavier/Glorot uniform from the fans, or zeros (biases). */
  fans: [number, number] | null;
}

/** One layer of a {@link Sequential}: its parameters and a pure function of them. */
export interface Layer {
  readonly name: string;
  readonly params: readonly ParamDef[];
  readonly outShape: readonly number[];
  apply(values: readonly tf.Tensor[], x: tf.Tensor, options: ApplyOptions): tf.Tensor;
  /**
   * `apply` with one copy of the params per group, in one pass: `values[i]` is
   * `[groups, ...shape]` and group k owns rows `k*m .. (k+1)*m - 1` of `x` `[groups * m, ...inShape]`.
   * Layers with params but without it run group by group.
   */
  applyGroups?(values: readonly tf.Tensor[], x: tf.Tensor, groups: number): tf.Tensor;
}

/** Makes a layer for a given per-sample input shape. */
export type LayerFactory = (inShape: readonly number[], name: string) => Layer;

const ACTIVATIONS: Record<Activation, (x: tf.Tensor) => tf.Tensor> = {
  linear: (x) => x,
  relu: (x) => tf.relu(x),
  tanh: (x) => tf.tanh(x),
  sigmoid: (x) => tf.sigmoid(x),
  elu: (x) => tf.elu(x),
  selu: (x) => tf.selu(x),
  leakyRelu: (x) => tf.leakyRelu(x, 0.2),
};

/** Checks an activation name from a spec. */
export function checkActivation(name: string, field: string): Activation {
  if (!(name in ACTIVATIONS)) {
    throw new StreamsError(
      'STREAMS_INVALID_CONFIG',
      `[streams/cl] unknown activation "${name}" in ${field}`,
      {
        fix: `use one of ${Object.keys(ACTIVATIONS).join(', ')}`,
      },
    );
  }
  return name as Activation;
}

function act(name: Activation, x: tf.Tensor): tf.Tensor {
  return ACTIVATIONS[name](x);
}

function prod(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A fully connected layer on flat inputs. */
export function dense(units: number, activation: Activation = 'linear'): LayerFactory {
  return (inShape, name) => {
    const inUnits = prod(inShape);
    return {
      name,
      params: [
        { name: 'kernel', shape: [inUnits, units], fans: [inUnits, units] },
        { name: 'bias', shape: [units], fans: null },
      ],
      outShape: [units],
      apply: ([w, b], x) => {
        const flat = x.rank === 2 ? x : tf.reshape(x, [x.shape[0]!, inUnits]);
        return act(activation, tf.add(tf.matMul(flat as tf.Tensor2D, w as tf.Tensor2D), b!));
      },
      applyGroups: ([w, b], x, groups) => {
        const m = x.shape[0]! / groups;
        const rows = tf.reshape(x, [groups, m, inUnits]);
        // One batched matMul: group k's rows times group k's kernel.
        const z = tf.add(
          tf.matMul(rows as tf.Tensor3D, w as tf.Tensor3D),
          tf.reshape(b!, [groups, 1, units]),
        );
        return tf.reshape(act(activation, z), [groups * m, units]);
      },
    };
  };
}

/** Dropout, active only in training passes; the mask comes from the pass's seed. */
export function dropout(rate: number): LayerFactory {
  return (inShape, name) => ({
    name,
    params: [],
    outShape: inShape,
    apply: (_v, x, o) =>
      o.training && rate > 0 ? tf.dropout(x, rate, undefined, `${o.seed ?? 0}/${name}`) : x,
  });
}

function convOut(size: number, k: number, stride: number, padding: Padding): number {
  return padding === 'same' ? Math.ceil(size / stride) : Math.floor((size - k) / stride) + 1;
}

function transposeOut(size: number, k: number, stride: number, padding: Padding): number {
  return padding === 'same' ? size * stride : (size - 1) * stride + k;
}

/** Options of a convolution layer (2D or 3D). */
export interface ConvOptions {
  filters: number;
  kernel: number;
  stride?: number;
  padding?: Padding;
  activation?: Activation;
}

/** A 2D convolution on `[h, w, c]` samples. */
export function conv2d(o: ConvOptions): LayerFactory {
  return (inShape, name) => {
    const [h, w, c] = inShape as [number, number, number];
    const k = o.kernel;
    const s = o.stride ?? 1;
    const pad = o.padding ?? 'same';
    return {
      name,
      params: [
        { name: 'kernel', shape: [k, k, c, o.filters], fans: [k * k * c, k * k * o.filters] },
        { name: 'bias', shape: [o.filters], fans: null },
      ],
      outShape: [convOut(h, k, s, pad), convOut(w, k, s, pad), o.filters],
      apply: ([f, b], x) =>
        act(
          o.activation ?? 'linear',
          tf.add(tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, s, pad), b!),
        ),
    };
  };
}

/** A 2D transposed convolution (the decoder's upsampling). */
export function conv2dTranspose(o: ConvOptions): LayerFactory {
  return (inShape, name) => {
    const [h, w, c] = inShape as [number, number, number];
    const k = o.kernel;
    const s = o.stride ?? 1;
    const pad = o.padding ?? 'same';
    const outShape = [transposeOut(h, k, s, pad), transposeOut(w, k, s, pad), o.filters];
    return {
      name,
      params: [
        { name: 'kernel', shape: [k, k, o.filters, c], fans: [k * k * c, k * k * o.filters] },
        { name: 'bias', shape: [o.filters], fans: null },
      ],
      outShape,
      apply: ([f, b], x) => {
        const out = tf.conv2dTranspose(
          x as tf.Tensor4D,
          f as tf.Tensor4D,
          [x.shape[0]!, outShape[0]!, outShape[1]!, o.filters],
          s,
          pad,
        );
        return act(o.activation ?? 'linear', tf.add(out, b!));
      },
    };
  };
}

/** A 3D convolution on `[d, h, w, c]` samples. */
export function conv3d(o: ConvOptions): LayerFactory {
  return (inShape, name) => {
    const [d, h, w, c] = inShape as [number, number, number, number];
    const k = o.kernel;
    const s = o.stride ?? 1;
    const pad = o.padding ?? 'same';
    const r = k * k * k;
    return {
      name,
      params: [
        { name: 'kernel', shape: [k, k, k, c, o.filters], fans: [r * c, r * o.filters] },
        { name: 'bias', shape: [o.filters], fans: null },
      ],
      outShape: [convOut(d, k, s, pad), convOut(h, k, s, pad), convOut(w, k, s, pad), o.filters],
      apply: ([f, b], x) =>
        act(
          o.activation ?? 'linear',
          tf.add(tf.conv3d(x as tf.Tensor5D, f as tf.Tensor5D, s, pad), b!),
        ),
    };
  };
}

/**
 * Nearest-neighbour upsampling of `[d, h, w, c]` samples by 2 on every spatial axis. The 3D
 * decoder uses it before a convolution because tfjs-core has no gradient for the kernel behind
 * `conv3dTranspose` (Conv3DBackpropInputV2).
 */
export function upsample3d(): LayerFactory {
  return (inShape, name) => {
    const [d, h, w, c] = inShape as [number, number, number, number];
    return {
      name,
      params: [],
      outShape: [2 * d, 2 * h, 2 * w, c],
      apply: (_v, x) => {
        const n = x.shape[0]!;
        // Doubles one axis: [..., s, rest] -> [..., s, 2, rest] -> [..., 2s, rest].
        const twice = (t: tf.Tensor, before: number[], after: number[]) => {
          const s = tf.reshape(t, [...before, 1, ...after]);
          return tf.reshape(tf.concat([s, s], before.length), [
            ...before.slice(0, -1),
            before[before.length - 1]! * 2,
            ...after,
          ]);
        };
        let out = twice(x, [n, d], [h, w, c]);
        out = twice(out, [n, 2 * d, h], [w, c]);
        return twice(out, [n, 2 * d, 2 * h, w], [c]);
      },
    };
  };
}

/** 2D max pooling. */
export function maxPool2d(size: number, stride = size): LayerFactory {
  return (inShape, name) => {
    const [h, w, c] = inShape as [number, number, number];
    return {
      name,
      params: [],
      outShape: [convOut(h, size, stride, 'valid'), convOut(w, size, stride, 'valid'), c],
      apply: (_v, x) => tf.maxPool(x as tf.Tensor4D, size, stride, 'valid'),
    };
  };
}

/** Reshapes each sample (e.g. a dense code back into a feature map). */
export function reshape(shape: readonly number[]): LayerFactory {
  return (inShape, name) => {
    if (prod(shape) !== prod(inShape)) {
      throw new StreamsError(
        'STREAMS_INVALID_CONFIG',
        `[streams/cl] cannot reshape [${inShape}] to [${shape}] in layer ${name}`,
      );
    }
    return {
      name,
      params: [],
      outShape: shape,
      apply: (_v, x) => tf.reshape(x, [x.shape[0]!, ...shape]),
    };
  };
}

let modelCounter = 0;

/**
 * A stack of layers with its own variables. Variable names are unique in the engine (tfjs keys
 * variables by name), so several models live side by side.
 */
export class Sequential {
  readonly layers: readonly Layer[];
  readonly params: readonly Param[];
  readonly outShape: readonly number[];
  private readonly defs: readonly { def: ParamDef; layer: number }[];

  constructor(
    inShape: readonly number[],
    factories: readonly LayerFactory[],
    prefix: string,
    seed: number,
  ) {
    const id = modelCounter++;
    const layers: Layer[] = [];
    let shape = inShape;
    factories.forEach((make, i) => {
      const layer = make(shape, `${prefix}${i}`);
      layers.push(layer);
      shape = layer.outShape;
    });
    this.layers = layers;
    this.outShape = shape;
    this.defs = layers.flatMap((l, li) => l.params.map((def) => ({ def, layer: li })));
    const values = initialValues(
      this.defs.map((d) => d.def),
      seed,
    );
    this.params = this.defs.map(({ def, layer }, i) => ({
      name: `${layers[layer]!.name}/${def.name}`,
      layer: layers[layer]!.name,
      variable: tf.variable(
        values[i]!,
        true,
        `streams-cl/${id}/${layers[layer]!.name}/${def.name}`,
      ),
    }));
    tf.dispose(values);
  }

  /** Runs the stack with `values` (one tensor per param, in `params` order). */
  apply(values: readonly tf.Tensor[], x: tf.Tensor, options: ApplyOptions): tf.Tensor {
    let offset = 0;
    let out = x;
    for (const layer of this.layers) {
      const n = layer.params.length;
      out = layer.apply(values.slice(offset, offset + n), out, options);
      offset += n;
    }
    return out;
  }

  /**
   * Runs the stack with one copy of the params per group (`values[i]` `[groups, ...shape]`, group
   * k owning rows `k*m ..` of `x`): layers without params run on all rows at once, dense layers
   * in one batched pass, other layers group by group.
   */
  applyGroups(
    values: readonly tf.Tensor[],
    x: tf.Tensor,
    groups: number,
    options: ApplyOptions,
  ): tf.Tensor {
    let offset = 0;
    let out = x;
    for (const layer of this.layers) {
      const n = layer.params.length;
      const own = values.slice(offset, offset + n);
      offset += n;
      if (n === 0) out = layer.apply(own, out, options);
      else if (layer.applyGroups) out = layer.applyGroups(own, out, groups);
      else {
        const parts = tf.split(out, groups, 0);
        const slices = own.map((v) => tf.unstack(v, 0));
        out = tf.concat(
          parts.map((part, k) =>
            layer.apply(
              slices.map((s) => s[k]!),
              part,
              options,
            ),
          ),
          0,
        );
      }
    }
    return out;
  }

  /** Redraws every parameter for `seed`. */
  init(seed: number): void {
    const values = initialValues(
      this.defs.map((d) => d.def),
      seed,
    );
    this.params.forEach((p, i) => {
      p.variable.assign(values[i]!);
    });
    tf.dispose(values);
  }

  dispose(): void {
    for (const p of this.params) p.variable.dispose();
  }
}

function initialValues(defs: readonly ParamDef[], seed: number): tf.Tensor[] {
  const r: Rng = rng(seed, 'cl-init');
  return defs.map((d) => {
    const data = new Float32Array(prod(d.shape)); // [...d.shape]
    if (d.fans) {
      // Xavier/Glorot uniform, drawn from the project PRNG so every backend starts identically.
      const limit = Math.sqrt(6 / (d.fans[0] + d.fans[1]));
      for (let i = 0; i < data.length; i++) data[i] = (r.float() * 2 - 1) * limit;
    }
    return tf.tensor(data, d.shape);
  });
}
