import { rng } from '@streams/core';
import * as tf from '@tensorflow/tfjs-core';
import { type Batch, takeRows } from '../batch.js';
import type { Strategy, StrategyContext } from '../strategy.js';
import {
  numberOption,
  quadraticPenalty,
  readTensors,
  StrategyMemory,
  snapshot,
  variablesFrom,
} from './util.js';

/** Options of EWC. */
export interface EwcOptions {
  /** Penalty strength lambda in `lambda/2 * sum F (theta - theta*)^2` (default 100). */
  lambda?: number;
  /** `separate`: one Fisher and anchor per experience (Kirkpatrick et al.); `online`: one decayed Fisher, latest anchor (Schwarz et al.). Default `separate`. */
  mode?: 'separate' | 'online';
  /** Online EWC: the decay gamma of the running Fisher (default 1). */
  gamma?: number;
  /** Samples of each experience kept (a reservoir) to estimate its Fisher at its end (default 256). */
  fisherSamples?: number;
}

/**
 * The diagonal empirical Fisher of the task loss on `n` rows: the sample-weighted mean of squared
 * per-sample gradients, `sum_i w_i g_i^2 / sum_i w_i`, one backward pass per sample (exact, no
 * batching approximation). Returns one tensor per param.
 */
export function empiricalFisher(ctx: StrategyContext, batch: Batch, n: number): tf.Tensor[] {
  let fisher = ctx.model.params.map((p) => tf.zerosLike(p.variable) as tf.Tensor);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const w = batch.weight?.[i] ?? 1;
    if (!(w > 0)) continue;
    total += w;
    const row = takeRows(batch, n, [i]);
    delete row.weight; // the weight scales g^2 below, not g
    const next = tf.tidy(() =>
      ctx.gradients(row, 1).map((g, k) => tf.add(fisher[k]!, tf.mul(tf.square(g), w))),
    );
    tf.dispose(fisher);
    fisher = next;
  }
  if (total === 0) return fisher;
  const out = tf.tidy(() => fisher.map((f) => tf.div(f, total)));
  tf.dispose(fisher);
  return out;
}

/**
 * Elastic weight consolidation. Separate EWC's sum over experiences t of
 * `F_t (theta - theta*_t)^2` is kept exactly as one quadratic `A (theta - mu)^2 + K`
 * (A = sum F_t, mu = sum F_t theta*_t / A, K the constant rest), so a step costs the same after
 * any number of experiences.
 */
export function ewc(options: EwcOptions = {}, seed = 0): Strategy {
  const lambda = numberOption(options.lambda, 100, 'ewc.lambda');
  const gamma = numberOption(options.gamma, 1, 'ewc.gamma');
  const online = (options.mode ?? 'separate') === 'online';
  const fisherSamples = numberOption(options.fisherSamples, 256, 'ewc.fisherSamples', 1);
  const mem = new StrategyMemory({ size: fisherSamples, policy: 'reservoir' }, rng(seed, 'ewc'));
  let importance: tf.Variable[] | null = null; // A
  let anchor: tf.Variable[] | null = null; // mu
  let constant = 0; // K
  let coef: tf.Tensor[] | null = null; // lambda A, made when first needed after A changes

  const drop = () => {
    tf.dispose([...(importance ?? []), ...(anchor ?? []), ...(coef ?? [])]);
    importance = null;
    anchor = null;
    coef = null;
  };

  return {
    name: 'ewc',
    trainsOnStream: true,
    beforeExperience() {
      mem.clear();
    },
    observe(ctx, batch, n) {
      mem.buffer.add(batch, n, ctx.experience, mem.rng);
    },
    penaltyGradients(ctx) {
      if (!importance || !anchor) return null;
      coef ??= importance.map((a) => tf.keep(tf.mul(a, lambda)));
      // lambda/2 (sum A (theta - mu)^2 + K), gradient lambda A (theta - mu).
      return quadraticPenalty(ctx.model.params, coef, anchor, (lambda / 2) * constant);
    },
    async afterExperience(ctx) {
      const data = mem.buffer.all();
      if (!data) return;
      const fisher = empiricalFisher(ctx, data.batch, data.n);
      const theta = snapshot(ctx.model.params);
      if (!importance || !anchor) {
        importance = fisher.map((f) => tf.variable(f, false));
        anchor = theta;
        constant = 0;
      } else if (online) {
        const next = tf.tidy(() => importance!.map((a, i) => tf.add(tf.mul(a, gamma), fisher[i]!)));
        drop();
        importance = next.map((t) => tf.variable(t, false));
        tf.dispose(next);
        anchor = theta;
        constant = 0;
      } else {
        // A' = A + F, mu' = (A mu + F theta) / A', K' = K + sum A F (mu - theta)^2 / A'.
        const A = await Promise.all(importance.map((t) => t.data() as Promise<Float32Array>));
        const M = await Promise.all(anchor.map((t) => t.data() as Promise<Float32Array>));
        const F = await Promise.all(fisher.map((t) => t.data() as Promise<Float32Array>));
        const T = await Promise.all(theta.map((t) => t.data() as Promise<Float32Array>));
        const nextA: tf.Variable[] = [];
        const nextM: tf.Variable[] = [];
        A.forEach((a, k) => {
          const m = M[k]!;
          const f = F[k]!;
          const th = T[k]!;
          const outA = new Float32Array(a.length);
          const outM = new Float32Array(a.length);
          for (let i = 0; i < a.length; i++) {
            const s = a[i]! + f[i]!;
            outA[i] = s;
            outM[i] = s > 0 ? (a[i]! * m[i]! + f[i]! * th[i]!) / s : th[i]!;
            if (s > 0) constant += (a[i]! * f[i]! * (m[i]! - th[i]!) ** 2) / s;
          }
          const shape = ctx.model.params[k]!.variable.shape;
          nextA.push(tf.tidy(() => tf.variable(tf.tensor(outA, shape), false)));
          nextM.push(tf.tidy(() => tf.variable(tf.tensor(outM, shape), false)));
        });
        drop();
        tf.dispose(theta);
        importance = nextA;
        anchor = nextM;
      }
      tf.dispose(fisher);
    },
    memoryReports: () => [mem.buffer.report()],
    async getState() {
      const s = mem.state();
      if (importance && anchor) {
        await readTensors(importance, 'importance.', s.arrays);
        await readTensors(anchor, 'anchor.', s.arrays);
      }
      return { meta: { memory: s.meta, constant }, arrays: s.arrays };
    },
    setState(state, ctx) {
      const meta = state.meta as { memory: unknown; constant: number };
      mem.restore({ meta: meta.memory, arrays: state.arrays });
      drop();
      constant = meta.constant;
      importance = variablesFrom(state.arrays, 'importance.', ctx.model.params);
      anchor = variablesFrom(state.arrays, 'anchor.', ctx.model.params);
    },
    dispose: drop,
  };
}
