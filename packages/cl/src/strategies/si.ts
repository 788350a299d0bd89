import * as tf from '@tensorflow/tfjs-core';
import type { Strategy } from '../strategy.js';
import { numberOption, quadraticPenalty, readTensors, snapshot, variablesFrom } from './util.js';

/** Options of synaptic intelligence. */
export interface SiOptions {
  /** Penalty strength c in `c * sum Omega (theta - theta*)^2` (default 1). */
  c?: number;
  /** Damping xi in `Omega += max(0, omega / (delta^2 + xi))` (default 0.1). */
  xi?: number;
}

/**
 * Synaptic intelligence (Zenke et al., 2017). Along each experience it sums the path integral
 * `omega += -g * (theta_t - theta_{t-1})` with the gradient each update applied (the regularized
 * one, as Avalanche does); at the end `Omega += max(0, omega / ((theta_end - theta_start)^2 + xi))`.
 * The clamp is the A-GEM reference code's (its PI: `relu`): with large SGD steps a parameter's path
 * integral can come out negative, and a negative importance pushes that parameter away from its
 * anchor, which diverges (permuted MNIST at SGD 0.1 went to chance without it).
 */
export function si(options: SiOptions = {}): Strategy {
  const c = numberOption(options.c, 1, 'si.c');
  const xi = numberOption(options.xi, 0.1, 'si.xi');
  let omega: tf.Variable[] | null = null; // running path integral of this experience
  let importance: tf.Variable[] | null = null; // Omega
  let start: tf.Variable[] | null = null; // theta at the experience start (the anchor theta*)
  let previous: tf.Variable[] | null = null; // theta before the last update
  let experiencesDone = 0;
  let coef: tf.Tensor[] | null = null; // 2c Omega, made when first needed after Omega changes

  const dropCoef = () => {
    tf.dispose(coef ?? []);
    coef = null;
  };
  const drop = () => {
    for (const v of [omega, importance, start, previous]) tf.dispose(v ?? []);
    omega = importance = start = previous = null;
    dropCoef();
  };

  return {
    name: 'si',
    trainsOnStream: true,
    beforeExperience(ctx) {
      tf.dispose([...(omega ?? []), ...(start ?? []), ...(previous ?? [])]);
      const zeros = () =>
        tf.tidy(() => ctx.model.params.map((p) => tf.variable(tf.zerosLike(p.variable), false)));
      omega = zeros();
      start = snapshot(ctx.model.params);
      previous = snapshot(ctx.model.params);
      importance ??= zeros();
    },
    penaltyGradients(ctx) {
      if (experiencesDone === 0 || !importance || !start) return null;
      coef ??= importance.map((w) => tf.keep(tf.mul(w, 2 * c)));
      // c sum Omega (theta - theta*)^2, gradient 2c Omega (theta - theta*).
      return quadraticPenalty(ctx.model.params, coef, start);
    },
    afterUpdate(ctx, grads) {
      if (!omega || !previous) return;
      ctx.model.params.forEach((p, i) => {
        omega![i]!.assign(tf.sub(omega![i]!, tf.mul(grads[i]!, tf.sub(p.variable, previous![i]!))));
        previous![i]!.assign(p.variable);
      });
    },
    afterExperience(ctx) {
      if (!omega || !start || !importance) return;
      const o = omega;
      const s = start;
      tf.tidy(() => {
        importance!.forEach((w, i) => {
          const delta = tf.sub(ctx.model.params[i]!.variable, s[i]!);
          w.assign(tf.add(w, tf.relu(tf.div(o[i]!, tf.add(tf.square(delta), xi)))));
        });
        // The anchor for the next experience is where this one ended.
        s.forEach((v, i) => {
          v.assign(ctx.model.params[i]!.variable);
        });
        for (const v of o) v.assign(tf.zerosLike(v));
      });
      dropCoef();
      experiencesDone++;
    },
    async getState() {
      const arrays = {};
      for (const [name, v] of [
        ['omega.', omega],
        ['importance.', importance],
        ['start.', start],
        ['previous.', previous],
      ] as const) {
        if (v) await readTensors(v, name, arrays);
      }
      return { meta: { experiencesDone }, arrays };
    },
    setState(state, ctx) {
      drop();
      experiencesDone = (state.meta as { experiencesDone: number }).experiencesDone;
      const params = ctx.model.params;
      omega = variablesFrom(state.arrays, 'omega.', params);
      importance = variablesFrom(state.arrays, 'importance.', params);
      start = variablesFrom(state.arrays, 'start.', params);
      previous = variablesFrom(state.arrays, 'previous.', params);
    },
    dispose: drop,
  };
}
