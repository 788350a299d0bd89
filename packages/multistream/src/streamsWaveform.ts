import { EventHub, type Rng, rng, StreamsError, type StreamsEventListener } from '@streams/core';
import { type Table, tableFromArrays } from 'apache-arrow';
import { type RenderChartOptions, type RenderedChart, renderChart } from './charts.js';
import { GroupedSampler } from './groupedSampler.js';
import type { Schedule } from './schedule.js';

/** What a stream drawn without replacement does once too few examples are left for a step. */
export type ExhaustionPolicy = 'error' | 'replacement' | 'refill';

/** Options of {@link StreamsWaveform}. */
export interface StreamsWaveformOptions {
  /** Domain columns: for each column, the value of every example (all columns equally long). */
  domains: Record<string, ArrayLike<string | number>>;
  seed: number;
  /** Examples drawn per step. */
  batchSize: number;
  /** Examples drawn at step 0 (the data available when the stream starts; default `batchSize`). */
  initialBuffer?: number;
  /** Steps between new targets (default 100). */
  duration?: number;
  /** Peak examples whose domain values each new target favors (default 2). */
  peaks?: number;
  /** Largest change of a signal in one step (the smoothness bound; default 0.25). */
  maxDelta?: number;
  /** Step at which a domain value's signal switches on (0 before); default 0 for every value. */
  startStep?: (column: string, value: string | number) => number;
  /** Draw an example at most once over the whole stream (default true) or independently per step. */
  withoutReplacement?: boolean;
  /**
   * Without replacement, when a step needs more examples than are left: `refill` (default) makes
   * every example available again (a new pass; the step's draws stay distinct, and those drawn
   * before the refill rejoin the new pass after the step), `replacement`
   * goes on drawing with replacement, `error` throws. Each time it triggers, a
   * `streams.exhausted` event is emitted.
   */
  exhaustion?: ExhaustionPolicy;
  /** Softmax temperature: probabilities are softmax(logit / temperature) (default 1). */
  temperature?: number;
  /**
   * Signals given per domain value by a schedule (`weights(t)`, one weight per entry of `values`,
   * clipped to [0, 10]) instead of the STREAMS waveform dynamics; logits and sampling stay the same.
   */
  schedule?: Schedule;
  /** Projected-gradient iterations per step (default 4) and their step size (default 0.5). */
  iterations?: number;
  learningRate?: number;
  /** Receives the waveform's events (also available through `events.on`). */
  onEvent?: StreamsEventListener;
}

/** Bounds and start of every signal, as the STREAMS construction defines them. */
export const SIGNAL_MIN = 0;
export const SIGNAL_MAX = 10;
export const SIGNAL_START = 5;

/** One step of the stream: which examples were drawn. */
export interface WaveformStep {
  step: number;
  examples: Uint32Array; // [drawn]
}

/** Options of {@link StreamsWaveform.visualize}. */
export interface VisualizeOptions extends RenderChartOptions {
  /** First and last (exclusive) step drawn; default 0 to the current step (at least 1 step). */
  from?: number;
  to?: number;
  /** Chart size in pixels (default 720 x 320). */
  width?: number;
  height?: number;
}

/**
 * STREAMS-style time-varying sampling over domain values. Every value of every domain column has
 * a signal in [0, 10] (5 when it switches on, 0 before its start step); an example's logit is the
 * minimum signal over its domain values; each step draws `batchSize` examples by softmax over
 * logits without replacement; every `duration` steps a new target favors the values of a few
 * random peak examples, and signals move toward it by projected gradient steps that never change
 * a signal by more than `maxDelta` per step.
 *
 * Sampling costs O(groups + batch x log groups) per step: examples with the same domain values
 * share a logit, so a step draws a group by its total softmax mass (a Fenwick tree), then an
 * example uniformly inside it. Drawing k of n without replacement this way is exactly a draw
 * from softmax over the remaining examples, one at a time (the Plackett-Luce / Gumbel top-k law).
 */
export class StreamsWaveform {
  readonly columns: readonly string[];
  /** Domain values: `values[v] = { column, value }`. */
  readonly values: ReadonlyArray<{ column: string; value: string | number }>;
  readonly numExamples: number;
  /** Number of distinct domain-value combinations (the sampling groups). */
  readonly numGroups: number;
  /** `streams.exhausted` (kind `warning`) when the exhaustion policy triggers. */
  readonly events = new EventHub('multistream');
  #currentStep = 0;
  readonly #o: Required<
    Omit<StreamsWaveformOptions, 'domains' | 'startStep' | 'schedule' | 'onEvent'>
  >;
  readonly #exampleValues: Uint32Array; // [examples, columns] value index per example and column
  readonly #groupValues: Uint32Array; // [groups, columns]
  readonly #logits: Float64Array; // [groups] logit of every group at the current signals
  readonly #sampler: GroupedSampler;
  readonly #start: Float64Array; // [values] start step of each value
  readonly #signals: Float64Array; // [values] signals at the last simulated step
  readonly #target: Float64Array; // [values]
  readonly #history: Uint32Array[] = []; // [steps][drawn]
  readonly #signalHistory: Float32Array[] = []; // [steps][values]
  readonly #rng: Rng;
  readonly #schedule: Schedule | undefined;
  #passes = 0;

  constructor(options: StreamsWaveformOptions) {
    const o = {
      seed: options.seed,
      batchSize: options.batchSize,
      initialBuffer: options.initialBuffer ?? options.batchSize,
      duration: options.duration ?? 100,
      peaks: options.peaks ?? 2,
      maxDelta: options.maxDelta ?? 0.25,
      withoutReplacement: options.withoutReplacement ?? true,
      exhaustion: options.exhaustion ?? 'refill',
      temperature: options.temperature ?? 1,
      iterations: options.iterations ?? 4,
      learningRate: options.learningRate ?? 0.5,
    };
    const bad = (field: string, what: string) =>
      new StreamsError(
        'STREAMS_INVALID_CONFIG',
        `[streams/multistream] StreamsWaveform ${field} ${what}`,
        { fix: `check the ${field} option` },
      );
    if (!(Number.isInteger(o.batchSize) && o.batchSize >= 1))
      throw bad('batchSize', 'must be an integer >= 1');
    if (!(Number.isInteger(o.initialBuffer) && o.initialBuffer >= 0))
      throw bad('initialBuffer', 'must be an integer >= 0');
    if (!(Number.isInteger(o.duration) && o.duration >= 1))
      throw bad('duration', 'must be an integer >= 1');
    if (!(Number.isInteger(o.peaks) && o.peaks >= 1)) throw bad('peaks', 'must be an integer >= 1');
    if (!(o.maxDelta >= 0)) throw bad('maxDelta', 'must be >= 0');
    if (!(o.temperature > 0)) throw bad('temperature', 'must be > 0');
    if (!(o.learningRate > 0 && o.learningRate <= 1))
      throw bad('learningRate', 'must be in (0, 1]');
    if (!['error', 'replacement', 'refill'].includes(o.exhaustion))
      throw bad('exhaustion', `must be "error", "replacement" or "refill", got "${o.exhaustion}"`);
    this.#o = o;
    this.columns = Object.keys(options.domains);
    if (this.columns.length === 0) throw bad('domains', 'needs at least one column');
    const C = this.columns.length;
    const n = options.domains[this.columns[0]!]!.length;
    if (n === 0) throw bad('domains', 'has no examples');
    if (o.withoutReplacement && Math.max(o.batchSize, o.initialBuffer) > n)
      throw bad(
        'batchSize',
        `(${Math.max(o.batchSize, o.initialBuffer)}) exceeds the ${n} examples`,
      );
    this.numExamples = n;
    this.#exampleValues = new Uint32Array(n * C); // [examples, columns]
    const values: Array<{ column: string; value: string | number }> = [];
    this.columns.forEach((column, c) => {
      const col = options.domains[column]!;
      if (col.length !== n)
        throw bad(
          'domains',
          `column "${column}" has ${col.length} values, "${this.columns[0]}" has ${n}`,
        );
      const index = new Map<string | number, number>();
      for (let i = 0; i < n; i++) {
        const value = col[i]!;
        let v = index.get(value);
        if (v === undefined) {
          v = values.length;
          index.set(value, v);
          values.push({ column, value });
        }
        this.#exampleValues[i * C + c] = v;
      }
    });
    this.values = values;

    // Groups of equal domain values, numbered in order of first appearance.
    const groupOf = new Uint32Array(n); // [examples]
    const keys = new Map<string | number, number>();
    for (let i = 0; i < n; i++) {
      const key =
        C === 1
          ? this.#exampleValues[i]!
          : Array.from(this.#exampleValues.subarray(i * C, (i + 1) * C)).join(',');
      let g = keys.get(key);
      if (g === undefined) {
        g = keys.size;
        keys.set(key, g);
      }
      groupOf[i] = g;
    }
    const G = keys.size;
    this.numGroups = G;
    this.#groupValues = new Uint32Array(G * C); // [groups, columns]
    const seen = new Uint8Array(G); // [groups]
    for (let i = 0; i < n; i++) {
      const g = groupOf[i]!;
      if (seen[g]) continue;
      seen[g] = 1;
      this.#groupValues.set(this.#exampleValues.subarray(i * C, (i + 1) * C), g * C);
    }
    this.#logits = new Float64Array(G); // [groups]

    this.#start = Float64Array.from(
      values,
      ({ column, value }) => options.startStep?.(column, value) ?? 0,
    );
    this.#signals = new Float64Array(values.length); // [values]
    this.#target = new Float64Array(values.length).fill(SIGNAL_START); // [values]
    this.#rng = rng(o.seed, 'streams-waveform');
    this.#sampler = new GroupedSampler(groupOf, G, this.#rng, !o.withoutReplacement);
    this.#schedule = options.schedule;
    if (this.#schedule && this.#schedule.size !== values.length) {
      throw bad(
        'schedule',
        `gives ${this.#schedule.size} weights for ${values.length} domain values (see .values)`,
      );
    }
    if (options.onEvent) this.events.on(options.onEvent);
  }

  /** Steps consumed so far with {@link step}. */
  get currentStep(): number {
    return this.#currentStep;
  }

  /** Examples drawn before the current step, in draw order (the permutation drawn so far). */
  get permutation(): Uint32Array {
    return this.#concat(0, this.#currentStep);
  }

  /** The step of each draw of {@link permutation}. */
  get permutationSteps(): Uint32Array {
    const out = new Uint32Array(this.#concat(0, this.#currentStep).length); // [drawn]
    let o = 0;
    for (let s = 0; s < this.#currentStep; s++) {
      const k = this.#history[s]!.length;
      out.fill(s, o, o + k);
      o += k;
    }
    return out;
  }

  /** Advances time by `n` steps and returns the examples drawn in those steps. */
  step(n = 1): WaveformStep[] {
    if (!(Number.isInteger(n) && n >= 0)) {
      throw new StreamsError(
        'STREAMS_INVALID_ARGUMENT',
        `[streams/multistream] step(n) needs an integer n >= 0, got ${n}`,
        { fix: 'pass a whole number of steps' },
      );
    }
    this.#simulate(this.#currentStep + n);
    const from = this.#currentStep;
    this.#currentStep += n;
    return this.#history.slice(from, from + n).map((examples, k) => ({ step: from + k, examples }));
  }

  /** The examples drawn at `step`, which must be before the current step. */
  drawnAt(step: number): Uint32Array {
    this.#checkPast(step, step + 1);
    return this.#history[step]!;
  }

  /** Signal of every domain value at `step` (the schedule is simulated ahead when needed). */
  signalsAt(step: number): Float32Array {
    this.#simulate(step + 1);
    return this.#signalHistory[step]!;
  }

  /**
   * Every draw before the current step as an Arrow table: `step`, `example` and one column per
   * domain (numbers stay numbers; a column mixing numbers and strings becomes strings).
   */
  getData(): Table {
    const example = this.permutation;
    const step = this.permutationSteps;
    const columns: Record<string, Uint32Array | Float64Array | string[]> = { step, example };
    for (const [column, values] of Object.entries(this.domainValuesOf(example)))
      columns[column] = values;
    return tableFromArrays(columns);
  }

  /** The domain values of the given examples, one array per column (numbers stay numbers). */
  domainValuesOf(examples: ArrayLike<number>): Record<string, Float64Array | string[]> {
    const C = this.columns.length;
    const out: Record<string, Float64Array | string[]> = {};
    this.columns.forEach((column, c) => {
      const values = Array.from(
        examples,
        (i) => this.values[this.#exampleValues[i * C + c]!]!.value,
      );
      out[column] = values.every((v) => typeof v === 'number')
        ? Float64Array.from(values as number[])
        : values.map(String);
    });
    return out;
  }

  /**
   * Train data at `step` and test data drawn in the next `testWindow` steps (for continual
   * learning); every step read must be before the current step.
   */
  getExperience(
    step: number,
    options: { testWindow?: number } = {},
  ): { step: number; train: Uint32Array; test: Uint32Array } {
    const w = options.testWindow ?? 1;
    this.#checkPast(step, step + 1 + w);
    return { step, train: this.#history[step]!, test: this.#concat(step + 1, step + 1 + w) };
  }

  /** The draws of steps [from, to), concatenated. */
  drawnBetween(from: number, to: number): Uint32Array {
    this.#checkPast(from, to);
    return this.#concat(from, to);
  }

  /** The logit of every example at `step`: the minimum signal over its domain values. */
  logitsAt(step: number): Float64Array {
    const sig = this.signalsAt(step);
    const C = this.columns.length;
    const logits = new Float64Array(this.numExamples); // [examples]
    for (let i = 0; i < this.numExamples; i++) {
      let m = Number.POSITIVE_INFINITY;
      for (let c = 0; c < C; c++) m = Math.min(m, sig[this.#exampleValues[i * C + c]!]!);
      logits[i] = m;
    }
    return logits;
  }

  /**
   * A line chart of the signals of `domain`'s values (all of them, or the given `values`) over
   * steps, one colored line per value with a legend, as SVG (and PNG with `png: true`).
   */
  async visualize(
    domain: string,
    values?: ReadonlyArray<string | number>,
    options: VisualizeOptions = {},
  ): Promise<RenderedChart> {
    if (!this.columns.includes(domain)) {
      throw new StreamsError(
        'STREAMS_INVALID_ARGUMENT',
        `[streams/multistream] visualize: no domain "${domain}"`,
        { fix: `use one of ${this.columns.join(', ')}` },
      );
    }
    const chosen = this.values
      .map((v, index) => ({ ...v, index }))
      .filter((v) => v.column === domain && (!values || values.includes(v.value)))
      .sort((a, b) =>
        typeof a.value === 'number' && typeof b.value === 'number'
          ? a.value - b.value
          : String(a.value).localeCompare(String(b.value)),
      );
    const missing = values?.filter((x) => !chosen.some((v) => v.value === x)) ?? [];
    if (missing.length > 0) {
      throw new StreamsError(
        'STREAMS_INVALID_ARGUMENT',
        `[streams/multistream] visualize: domain "${domain}" has no value ${missing.map((m) => JSON.stringify(m)).join(', ')}`,
        { fix: `use values of ${domain} that occur in the data` },
      );
    }
    const from = options.from ?? 0;
    const to = options.to ?? Math.max(from + 1, this.#currentStep);
    if (!(Number.isInteger(from) && Number.isInteger(to) && from >= 0 && to > from)) {
      throw new StreamsError(
        'STREAMS_INVALID_ARGUMENT',
        `[streams/multistream] visualize: bad step range [${from}, ${to})`,
        { fix: 'pass integers 0 <= from < to' },
      );
    }
    this.#simulate(to);
    // One point per step up to ~600 steps per line; longer ranges are thinned evenly.
    const stride = Math.max(1, Math.ceil((to - from) / 600));
    const rows: Array<{ step: number; value: string; signal: number }> = [];
    for (let s = from; s < to; s += stride) {
      const sig = this.#signalHistory[s]!;
      for (const v of chosen) rows.push({ step: s, value: String(v.value), signal: sig[v.index]! });
    }
    return renderChart(
      {
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
        title: `STREAMS signals of "${domain}", steps ${from} to ${to - 1}`,
        width: options.width ?? 720,
        height: options.height ?? 320,
        data: { values: rows },
        mark: { type: 'line', strokeWidth: 1.5 },
        encoding: {
          x: { field: 'step', type: 'quantitative', title: 'step' },
          y: {
            field: 'signal',
            type: 'quantitative',
            title: 'signal',
            scale: { domain: [SIGNAL_MIN, SIGNAL_MAX] },
          },
          color: {
            field: 'value',
            type: 'nominal',
            title: domain,
            sort: chosen.map((v) => String(v.value)),
          },
        },
      },
      { png: options.png, scale: options.scale },
    );
  }

  #checkPast(from: number, to: number): void {
    if (!(Number.isInteger(from) && Number.isInteger(to) && from >= 0 && to <= this.#currentStep)) {
      throw new StreamsError(
        'STREAMS_INVALID_ARGUMENT',
        `[streams/multistream] steps [${from}, ${to}) are not all before the current step ${this.#currentStep}`,
        {
          fix: `call step(${Math.max(1, to - this.#currentStep)}) first: nothing past the current step is read`,
        },
      );
    }
  }

  #concat(from: number, to: number): Uint32Array {
    const steps = this.#history.slice(from, to);
    const out = new Uint32Array(steps.reduce((a, s) => a + s.length, 0)); // [drawn]
    let o = 0;
    for (const s of steps) {
      out.set(s, o);
      o += s.length;
    }
    return out;
  }

  /** Simulates signal updates and draws up to (excluding) step `until`. */
  #simulate(until: number): void {
    const o = this.#o;
    const V = this.values.length;
    while (this.#history.length < until) {
      const t = this.#history.length;
      const k = t === 0 ? o.initialBuffer : o.batchSize;
      const sampler = this.#sampler;
      if (!sampler.withReplacement && k > sampler.left && o.exhaustion === 'error') {
        throw new StreamsError(
          'STREAMS_INVALID_ARGUMENT',
          `[streams/multistream] the stream is exhausted at step ${t}: ${sampler.left} of ${this.numExamples} examples are left and a step draws ${k}`,
          { fix: 'step less far, or use exhaustion: "refill" (a new pass) or "replacement"' },
        );
      }
      if (this.#schedule) {
        // Signals given by a schedule per domain value (weights(t)), clipped to [0, 10].
        const w = this.#schedule.weightsAt(t);
        for (let v = 0; v < V; v++)
          this.#signals[v] = Math.min(SIGNAL_MAX, Math.max(SIGNAL_MIN, w[v]!));
      } else {
        if (t % o.duration === 0) this.#newTarget();
        for (let v = 0; v < V; v++) {
          const start = this.#start[v]!;
          if (t < start) this.#signals[v] = 0;
          else if (t - 1 < start)
            this.#signals[v] = SIGNAL_START; // just switched on
          else this.#signals[v] = this.#projectedStep(this.#signals[v]!, this.#target[v]!);
        }
      }
      this.#signalHistory.push(Float32Array.from(this.#signals));
      this.#history.push(this.#draw(t, k));
    }
  }

  /**
   * Minimizes (x - target)^2 / 2 over the box [prev - maxDelta, prev + maxDelta] ∩ [0, 10] by
   * projected gradient: the projection onto a box is a clip, so the bound holds after every step.
   */
  #projectedStep(prev: number, target: number): number {
    const lo = Math.max(SIGNAL_MIN, prev - this.#o.maxDelta);
    const hi = Math.min(SIGNAL_MAX, prev + this.#o.maxDelta);
    let x = prev;
    for (let k = 0; k < this.#o.iterations; k++) {
      x -= this.#o.learningRate * (x - target);
      x = x < lo ? lo : x > hi ? hi : x;
    }
    return x;
  }

  /** A new target: high on the domain values of a few random peak examples, low elsewhere. */
  #newTarget(): void {
    const C = this.columns.length;
    this.#target.fill(SIGNAL_MIN);
    const peaks = this.#rng.sample(this.numExamples, Math.min(this.#o.peaks, this.numExamples));
    for (const i of peaks) {
      for (let c = 0; c < C; c++) this.#target[this.#exampleValues[i * C + c]!] = SIGNAL_MAX;
    }
  }

  /** Draws `k` examples at step `t` (see the class comment for why this is exact). */
  #draw(t: number, k: number): Uint32Array {
    const out = new Uint32Array(k); // [k]
    this.#buildTree();
    let j = 0;
    let heldOut = 0; // draws of this step made before a refill: out of the new pass until the step ends
    while (j < k) {
      if (!this.#sampler.withReplacement && this.#sampler.left === 0) {
        heldOut = j;
        this.#exhausted(t, out.subarray(0, j));
        this.#buildTree();
        continue;
      }
      out[j++] = this.#sampler.drawOne();
    }
    for (let h = 0; h < heldOut; h++) this.#sampler.putBack(out[h]!);
    return out;
  }

  /** The exhaustion policy: a new pass (this step's draws stay out of it) or replacement. */
  #exhausted(t: number, drawnThisStep: Uint32Array): void {
    const policy = this.#o.exhaustion;
    this.#passes++;
    if (policy === 'replacement') this.#sampler.useReplacement();
    else {
      this.#sampler.refill();
      for (const i of drawnThisStep) this.#sampler.take(i);
    }
    this.events.emit({
      kind: 'warning',
      name: 'streams.exhausted',
      attrs: { step: t, policy, pass: this.#passes, examples: this.numExamples },
    });
  }

  /** The groups' logits at the current signals (a group's is its weakest domain value's). */
  #buildTree(): void {
    const C = this.columns.length;
    for (let g = 0; g < this.numGroups; g++) {
      let m = Number.POSITIVE_INFINITY;
      for (let c = 0; c < C; c++) {
        const s = this.#signals[this.#groupValues[g * C + c]!]!;
        if (s < m) m = s;
      }
      this.#logits[g] = m;
    }
    this.#sampler.setLogits(this.#logits, this.#o.temperature);
  }
}
