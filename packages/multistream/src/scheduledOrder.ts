// Time-varying mixing: an endless global sequence in steps of `stepSize` samples, step t taking
// `apportion(schedule.weightsAt(t), stepSize)` samples from each stream, in stream order, each
// stream read from its own shuffled order pass after pass. It depends on the data, the schedule,
// the seed and the step size only (not the world), so ranks split it as they split an epoch.
import { StreamsError } from '@streams/core';
import { buildEpochPlan, type PlanConfig } from './epochPlan.js';
import { apportion, type Schedule } from './schedule.js';

/** What the scheduled sequence is made of. */
export interface ScheduledStreams {
  /** Samples of each stream, and its label for messages. */
  samples: readonly number[];
  labels: readonly string[];
  /** The first global id of each stream (streams laid end to end). */
  offsets: readonly number[];
  /** The plan options each stream's own order is built with (its shard sizes, the shuffle). */
  plan: Omit<PlanConfig, 'numCanonicalNodes'>;
}

/** The global ids of the scheduled sequence, computed for any range of positions. */
export class ScheduledOrder {
  #cursorStep = 0;
  #cursors: number[];
  readonly #orders = new Map<string, Uint32Array>();

  constructor(
    readonly schedule: Schedule,
    private readonly streams: ScheduledStreams,
    private readonly seed: number,
    public stepSize: number,
  ) {
    this.#cursors = streams.samples.map(() => 0);
  }

  /** Adopts another step size (a resumed state's): the cursors start over. */
  setStepSize(step: number): void {
    if (step === this.stepSize) return;
    this.stepSize = step;
    this.#cursorStep = 0;
    this.#cursors = this.streams.samples.map(() => 0);
  }

  /** Global sample ids of positions [start, end) of the scheduled sequence. */
  ids(start: number, end: number): Uint32Array {
    const U = this.stepSize;
    const out = new Uint32Array(end - start); // [end - start]
    const offsets = this.streams.offsets;
    for (let t = Math.floor(start / U); t * U < end; t++) {
      const cursors = this.#cursorsAt(t);
      const portions = apportion(this.schedule.weightsAt(t), U);
      let p = t * U;
      for (let s = 0; s < portions.length; s++) {
        const samples = this.streams.samples[s]!;
        if (samples === 0 && portions[s]! > 0) {
          const label = this.streams.labels[s]!;
          throw new StreamsError(
            'STREAMS_INVALID_CONFIG',
            `[streams/multistream] the schedule gives weight to ${label} at step ${t}, but the stream is empty`,
            { stream: label, fix: 'give empty streams weight 0 or point them at data' },
          );
        }
        for (let o = 0; o < portions[s]!; o++, p++) {
          if (p < start || p >= end) continue;
          const k = cursors[s]! + o;
          const e = Math.floor(k / samples);
          out[p - start] = offsets[s]! + this.#order(s, e)[k - e * samples]!;
        }
      }
    }
    return out;
  }

  /** Samples taken from each stream before step t (sums of the apportioned steps; rolls forward). */
  #cursorsAt(t: number): number[] {
    if (this.#cursorStep > t) {
      this.#cursorStep = 0;
      this.#cursors = this.streams.samples.map(() => 0);
    }
    while (this.#cursorStep < t) {
      const portions = apportion(this.schedule.weightsAt(this.#cursorStep), this.stepSize);
      this.#cursors = this.#cursors.map((x, s) => x + portions[s]!);
      this.#cursorStep++;
    }
    return this.#cursors;
  }

  /** Stream s's own order for its e-th pass (one stream, every sample once, shuffled per pass). */
  #order(s: number, e: number): Uint32Array {
    const key = `${s}:${e}`;
    let order = this.#orders.get(key);
    if (!order) {
      const plan = this.streams.plan;
      order = buildEpochPlan(
        {
          ...plan,
          streams: [plan.streams[s]!],
          choose: [this.streams.samples[s]!],
          seed: this.seed + s * 7919,
          batching: 'random',
          order: plan.order === 'interleave' ? 'shuffle' : plan.order,
          numCanonicalNodes: 1,
        },
        e,
      ).ids;
      this.#orders.set(key, order);
      // Two passes per stream are enough to serve any step (a step never spans more).
      for (const k of this.#orders.keys())
        if (k.startsWith(`${s}:`) && Number(k.split(':')[1]) < e - 1) this.#orders.delete(k);
    }
    return order;
  }
}
