import { Rng, StreamsError } from '@streams/core';
import * as tf from '@tensorflow/tfjs-core';
import {
  MemoryBuffer,
  type MemoryMeta,
  type MemoryOptions,
  type MemoryPolicy,
} from '../memoryBuffer.js';
import type { Param } from '../models/model.js';
import type { SavedState, StateArrays, Strategy } from '../strategy.js';

/** Checks a numeric strategy option, with its default. */
export function numberOption(value: unknown, fallback: number, field: string, min = 0): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) {
    throw new StreamsError(
      'STREAMS_INVALID_CONFIG',
      `[streams/cl] strategy option ${field} must be a number >= ${min}, got ${JSON.stringify(value)}`,
      { fix: `set ${field} to a number >= ${min}` },
    );
  }
  return v;
}

/** Non-trainable copies of the params' current values. */
export function snapshot(params: readonly Param[]): tf.Variable[] {
  return params.map((p) => tf.variable(p.variable, false));
}

/** Reads tensors into named arrays `${prefix}${i}`. */
export async function readTensors(
  tensors: readonly tf.Tensor[],
  prefix: string,
  into: StateArrays,
): Promise<void> {
  const data = await Promise.all(tensors.map((t) => t.data() as Promise<Float32Array>));
  data.forEach((d, i) => {
    into[`${prefix}${i}`] = d;
  });
}

/** Makes variables shaped like `params` from arrays `${prefix}${i}` (none if the first is missing). */
export function variablesFrom(
  arrays: StateArrays,
  prefix: string,
  params: readonly Param[],
): tf.Variable[] | null {
  if (!arrays[`${prefix}0`]) return null;
  return tf.tidy(() =>
    params.map((p, i) => {
      const a = arrays[`${prefix}${i}`];
      if (!(a instanceof Float32Array) || a.length !== p.variable.size) {
        throw new StreamsError(
          'STREAMS_STATE_INVALID',
          `[streams/cl] saved tensor ${prefix}${i} does not fit parameter ${p.name}`,
          {
            fix: 'load the checkpoint into a learner with the same model',
          },
        );
      }
      return tf.variable(tf.tensor(a, p.variable.shape), false);
    }),
  );
}

/** The memory options strategies share, as given by a user. */
export interface StrategyMemoryOptions {
  /** Samples the memory keeps (each strategy has its default). */
  memorySize?: number;
  /** Byte bound of the memory (the capacity is the smaller of the two bounds). */
  maxBytes?: number;
}

/** A memory whose policy the user chooses (replay, A-GEM). */
export interface ChosenMemoryOptions extends StrategyMemoryOptions {
  /** How the memory chooses what to keep (each strategy has its default). */
  policy?: MemoryPolicy;
  /** `perExperience`: at most this many samples per experience. */
  perExperience?: number;
  /** `classRing`: samples kept per class and experience. */
  perClass?: number;
}

/** Memory options of a strategy whose policy the user chooses, `policy` defaulting to `fallbackPolicy`. */
export function chosenMemoryOptions(
  o: ChosenMemoryOptions,
  name: string,
  fallbackPolicy: MemoryPolicy,
): MemoryOptions {
  const quota = (v: number | undefined, key: string) =>
    v === undefined ? {} : { [key]: numberOption(v, 1, `${name}.${key}`, 1) };
  return memoryOptions(o, name, 1000, {
    policy: o.policy ?? fallbackPolicy,
    ...quota(o.perExperience, 'perExperience'),
    ...quota(o.perClass, 'perClass'),
  });
}

/** Memory options from a strategy's options: its size (with `fallback`), byte bound and fixed choices. */
export function memoryOptions(
  o: StrategyMemoryOptions,
  name: string,
  fallback: number,
  fixed: Omit<MemoryOptions, 'size'> = {},
): MemoryOptions {
  return {
    size: numberOption(o.memorySize, fallback, `${name}.memorySize`, 1),
    ...(o.maxBytes === undefined ? {} : { maxBytes: o.maxBytes }),
    ...fixed,
  };
}

/**
 * A memory with its own generator, filled from the stream: the part replay, A-GEM, GEM, GDumb,
 * joint and EWC share, with the strategy hooks that keep it.
 */
export class StrategyMemory {
  buffer: MemoryBuffer;
  rng: Rng;

  constructor(
    private readonly options: MemoryOptions,
    generator: Rng,
  ) {
    this.buffer = new MemoryBuffer(options);
    this.rng = generator;
  }

  /** Empties the memory (the generator goes on). */
  clear(): void {
    this.buffer = new MemoryBuffer(this.options);
  }

  /** The state: the buffer's meta and arrays (`memory.` prefix), plus the generator. */
  state(): SavedState {
    const s = this.buffer.getState();
    const arrays: StateArrays = {};
    for (const [k, v] of Object.entries(s.arrays)) arrays[`memory.${k}`] = v;
    return { meta: { memory: s.meta, rng: this.rng.getState() }, arrays };
  }

  /** Restores {@link state}. */
  restore(state: SavedState): void {
    const meta = state.meta as { memory: MemoryMeta; rng: [number, number, number, number] };
    const arrays: StateArrays = {};
    for (const [k, v] of Object.entries(state.arrays))
      if (k.startsWith('memory.')) arrays[k.slice(7)] = v;
    this.buffer = new MemoryBuffer(meta.memory.options);
    this.buffer.setState(meta.memory, arrays);
    this.rng = Rng.fromState(meta.rng);
  }

  /** The hooks of a strategy whose whole state is this memory, filled from every stream batch. */
  hooks(): Pick<Strategy, 'observe' | 'memoryReports' | 'getState' | 'setState' | 'dispose'> {
    return {
      observe: (ctx, batch, n) => this.buffer.add(batch, n, ctx.experience, this.rng),
      memoryReports: () => [this.buffer.report()],
      getState: () => this.state(),
      setState: (state) => this.restore(state),
      dispose: () => {},
    };
  }
}

/**
 * The quadratic `1/2 sum_i sum(coef_i * (param_i - anchor_i)^2) + constant` of EWC and SI with its
 * gradient `coef_i * (param_i - anchor_i)` (for {@link Strategy.penaltyGradients}).
 */
export function quadraticPenalty(
  params: readonly Param[],
  coef: readonly tf.Tensor[],
  anchor: readonly tf.Tensor[],
  constant = 0,
): { value: tf.Scalar; grads: tf.Tensor[] } {
  const d = params.map((p, i) => tf.sub(p.variable, anchor[i]!));
  const grads = d.map((x, i) => tf.mul(coef[i]!, x));
  const sum = tf.mul(tf.addN(grads.map((g, i) => tf.sum(tf.mul(g, d[i]!)))), 0.5);
  return { value: (constant === 0 ? sum : tf.add(sum, constant)) as tf.Scalar, grads };
}
