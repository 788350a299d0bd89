import { StreamsError } from '@streams/core';

/**
 * A mixing schedule: the weight of each stream (or domain value) at step t. Weights are
 * non-negative and need not sum to 1; consumers normalize them.
 */
export interface Schedule {
  readonly kind: string;
  /** Number of weights the schedule returns. */
  readonly size: number;
  weightsAt(step: number): number[];
}

function checkWeights(weights: readonly number[], field: string): void {
  if (weights.length === 0 || !weights.every((w) => Number.isFinite(w) && w >= 0)) {
    throw new StreamsError(
      'STREAMS_INVALID_CONFIG',
      `[streams/multistream] ${field} must be a non-empty list of finite weights >= 0, got ${JSON.stringify(weights)}`,
      {
        fix: 'give one non-negative weight per stream',
      },
    );
  }
}

/** The same weights at every step. */
export function constantSchedule(weights: readonly number[]): Schedule {
  checkWeights(weights, 'constantSchedule weights');
  const w = [...weights];
  return { kind: 'constant', size: w.length, weightsAt: () => [...w] };
}

/** One weight vector per phase: phase k holds from its `from` step until the next phase. */
export function piecewiseSchedule(
  phases: readonly { from: number; weights: readonly number[] }[],
): Schedule {
  if (phases.length === 0 || phases[0]!.from !== 0) {
    throw new StreamsError(
      'STREAMS_INVALID_CONFIG',
      '[streams/multistream] piecewiseSchedule needs phases starting at step 0',
      {
        fix: 'give the first phase from: 0',
      },
    );
  }
  phases.forEach((p, i) => {
    checkWeights(p.weights, `piecewiseSchedule phases[${i}].weights`);
    if (
      p.weights.length !== phases[0]!.weights.length ||
      (i > 0 && !(p.from > phases[i - 1]!.from))
    ) {
      throw new StreamsError(
        'STREAMS_INVALID_CONFIG',
        `[streams/multistream] piecewiseSchedule phases[${i}] has a different weight count or a step not after the previous phase`,
        {
          fix: 'list phases by increasing from, each with one weight per stream',
        },
      );
    }
  });
  const list = phases.map((p) => ({ from: p.from, weights: [...p.weights] }));
  return {
    kind: 'piecewise',
    size: list[0]!.weights.length,
    weightsAt(step) {
      let k = 0;
      while (k + 1 < list.length && list[k + 1]!.from <= step) k++;
      return [...list[k]!.weights];
    },
  };
}

/** Linear interpolation between keyframes (constant before the first and after the last). */
export function linearSchedule(
  keyframes: readonly { step: number; weights: readonly number[] }[],
): Schedule {
  if (keyframes.length === 0) {
    throw new StreamsError(
      'STREAMS_INVALID_CONFIG',
      '[streams/multistream] linearSchedule needs at least one keyframe',
      {
        fix: 'give keyframes like [{ step: 0, weights: [1, 0] }, { step: 1000, weights: [0, 1] }]',
      },
    );
  }
  keyframes.forEach((k, i) => {
    checkWeights(k.weights, `linearSchedule keyframes[${i}].weights`);
    if (
      k.weights.length !== keyframes[0]!.weights.length ||
      (i > 0 && !(k.step > keyframes[i - 1]!.step))
    ) {
      throw new StreamsError(
        'STREAMS_INVALID_CONFIG',
        `[streams/multistream] linearSchedule keyframes[${i}] has a different weight count or a step not after the previous one`,
        {
          fix: 'list keyframes by increasing step, each with one weight per stream',
        },
      );
    }
  });
  const list = keyframes.map((k) => ({ step: k.step, weights: [...k.weights] }));
  return {
    kind: 'linear',
    size: list[0]!.weights.length,
    weightsAt(step) {
      if (step <= list[0]!.step) return [...list[0]!.weights];
      for (let i = 1; i < list.length; i++) {
        const a = list[i - 1]!;
        const b = list[i]!;
        if (step <= b.step) {
          const f = (step - a.step) / (b.step - a.step);
          return a.weights.map((w, k) => w + f * (b.weights[k]! - w));
        }
      }
      return [...list[list.length - 1]!.weights];
    },
  };
}

/**
 * Splits `total` slots by `weights` with the largest-remainder rule (ties to the lower index), so
 * every global batch follows the schedule as closely as whole samples allow.
 */
export function apportion(weights: readonly number[], total: number): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  if (!(sum > 0)) {
    throw new StreamsError(
      'STREAMS_INVALID_CONFIG',
      '[streams/multistream] all schedule weights are 0 at this step',
      {
        fix: 'keep at least one positive weight at every step',
      },
    );
  }
  const exact = weights.map((w) => (w / sum) * total);
  const out = exact.map(Math.floor);
  let missing = total - out.reduce((a, b) => a + b, 0);
  const order = exact
    .map((e, i) => [e - Math.floor(e), i] as const)
    .sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, i] of order) {
    if (missing-- <= 0) break;
    out[i]! += 1;
  }
  return out;
}

/**
 * A time-varying mix of streams: global batch `t` takes `apportion(schedule.weightsAt(t), g)`
 * samples from each stream, in stream order, each stream read from its own endless order
 * (`next(stream, k)` returns its k-th sample). Deterministic and independent of the world size,
 * so `partitionPlan` splits each global batch exactly as it splits an epoch.
 */
export function scheduledBatch(
  schedule: Schedule,
  step: number,
  globalBatchSize: number,
  cursors: number[],
  next: (stream: number, k: number) => number,
): Uint32Array {
  const portions = apportion(schedule.weightsAt(step), globalBatchSize);
  const out = new Uint32Array(globalBatchSize); // [g]
  let o = 0;
  portions.forEach((n, s) => {
    for (let i = 0; i < n; i++) out[o++] = next(s, cursors[s]!++);
  });
  return out;
}
