import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type Rng, rng, StreamsError } from '@streams/core';
import { type Table, tableFromArrays } from 'apache-arrow';
import type { Schedule } from './schedule.js';

/** Options of {@link StreamsWaveform}. */
export interface StreamsWaveformOptions {
  /** Domain columns: for each column, the value of every example (all columns equally long). */
  domains: Record<string, ArrayLike<string | number>>;
  seed: number;
  /** Examples drawn per step. */
  batchSize: number;
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

/**
 * STREAMS-style time-varying sampling over domain values. Every value of every domain column has
 * a signal in [0, 10] (5 when it switches on, 0 before its start step); an example's logit is the
 * minimum signal over its domain values; each step draws `batchSize` examples by softmax over
 * logits without replacement (Gumbel top-k); every `duration` steps a new target favors the
 * values of a few random peak examples, and signals move toward it by projected gradient steps
 * that never change a signal by more than `maxDelta` per step.
 */
export class StreamsWaveform {
  readonly columns: readonly string[];
  /** Domain values: `values[v] = { column, value }`. */
  readonly values: ReadonlyArray<{ column: string; value: string | number }>;
  readonly numExamples: number;
  #currentStep = 0;
  readonly #o: Required<Omit<StreamsWaveformOptions, 'domains' | 'startStep' | 'schedule'>>;
  readonly #exampleValues: Uint32Array; // [examples, columns] value index per example and column
  readonly #start: Float64Array; // [values] start step of each value
  readonly #signals: Float64Array; // [values] signals at the last simulated step
  readonly #target: Float64Array; // [values]
  readonly #available: Uint8Array; // [examples]
  readonly #history: WaveformStep[] = [];
  readonly #signalHistory: Float32Array[] = []; // [steps][values]
  readonly #rng: Rng;
  readonly #schedule: Schedule | undefined;

  constructor(options: StreamsWaveformOptions) {
    const o = {
      seed: options.seed,
      batchSize: options.batchSize,
      duration: options.duration ?? 100,
      peaks: options.peaks ?? 2,
      maxDelta: options.maxDelta ?? 0.25,
      withoutReplacement: options.withoutReplacement ?? true,
      temperature: options.temperature ?? 1,
      iterations: options.iterations ?? 4,
      learningRate: options.learningRate ?? 0.5,
    };
    const bad = (field: string, what: string) =>
      new StreamsError(
        'STREAMS_INVALID_CONFIG',
        `[streams/multistream] StreamsWaveform ${field} ${what}`,
        {
          fix: `check the ${field} option`,
        },
      );
    if (!(Number.isInteger(o.batchSize) && o.batchSize >= 1))
      throw bad('batchSize', 'must be an integer >= 1');
    if (!(Number.isInteger(o.duration) && o.duration >= 1))
      throw bad('duration', 'must be an integer >= 1');
    if (!(Number.isInteger(o.peaks) && o.peaks >= 1)) throw bad('peaks', 'must be an integer >= 1');
    if (!(o.maxDelta >= 0)) throw bad('maxDelta', 'must be >= 0');
    if (!(o.temperature > 0)) throw bad('temperature', 'must be > 0');
    if (!(o.learningRate > 0 && o.learningRate <= 1))
      throw bad('learningRate', 'must be in (0, 1]');
    this.#o = o;
    this.columns = Object.keys(options.domains);
    if (this.columns.length === 0) throw bad('domains', 'needs at least one column');
    const n = options.domains[this.columns[0]!]!.length;
    this.numExamples = n;
    this.#exampleValues = new Uint32Array(n * this.columns.length); // [examples, columns]
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
        this.#exampleValues[i * this.columns.length + c] = v;
      }
    });
    this.values = values;
    this.#start = Float64Array.from(
      values,
      ({ column, value }) => options.startStep?.(column, value) ?? 0,
    );
    this.#signals = new Float64Array(values.length); // [values]
    this.#target = new Float64Array(values.length).fill(SIGNAL_START); // [values]
    this.#available = new Uint8Array(n).fill(1); // [examples]
    this.#rng = rng(o.seed, 'streams-waveform');
    this.#schedule = options.schedule;
    if (this.#schedule && this.#schedule.size !== values.length) {
      throw bad(
        'schedule',
        `gives ${this.#schedule.size} weights for ${values.length} domain values (see .values)`,
      );
    }
  }

  /** Steps consumed so far with {@link step}. */
  get currentStep(): number {
    return this.#currentStep;
  }

  /** Advances time by `n` steps and returns the examples drawn in those steps. */
  step(n = 1): WaveformStep[] {
    if (!(Number.isInteger(n) && n >= 0)) {
      throw new StreamsError(
        'STREAMS_INVALID_ARGUMENT',
        `[streams/multistream] step(n) needs an integer n >= 0, got ${n}`,
        {
          fix: 'pass a whole number of steps',
        },
      );
    }
    this.#simulate(this.#currentStep + n);
    const out = this.#history.slice(this.#currentStep, this.#currentStep + n);
    this.#currentStep += n;
    return out;
  }

  /** Signal of every domain value at `step` (simulating ahead if needed). */
  signalsAt(step: number): Float32Array {
    this.#simulate(step + 1);
    return this.#signalHistory[step]!;
  }

  /**
   * Every draw before the current step as an Arrow table: `step`, `example` and one column per
   * domain (numbers stay numbers; a column mixing numbers and strings becomes strings).
   */
  getData(): Table {
    const steps = this.#history.slice(0, this.#currentStep);
    const total = steps.reduce((a, s) => a + s.examples.length, 0);
    const step = new Uint32Array(total); // [rows]
    const example = new Uint32Array(total); // [rows]
    let o = 0;
    for (const s of steps) {
      step.fill(s.step, o, o + s.examples.length);
      example.set(s.examples, o);
      o += s.examples.length;
    }
    const columns: Record<string, Uint32Array | Float64Array | string[]> = { step, example };
    this.columns.forEach((column, c) => {
      const values = Array.from(
        example,
        (i) => this.values[this.#exampleValues[i * this.columns.length + c]!]!.value,
      );
      columns[column] = values.every((v) => typeof v === 'number')
        ? Float64Array.from(values as number[])
        : values.map(String);
    });
    return tableFromArrays(columns);
  }

  /** Train data at `step` and test data drawn in the next `testWindow` steps (for continual learning). */
  getExperience(
    step: number,
    options: { testWindow?: number } = {},
  ): { step: number; train: Uint32Array; test: Uint32Array } {
    const w = options.testWindow ?? 1;
    this.#simulate(step + 1 + w);
    const test: number[] = [];
    for (let s = step + 1; s <= step + w; s++) test.push(...this.#history[s]!.examples);
    return { step, train: this.#history[step]!.examples, test: Uint32Array.from(test) };
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
   * Writes the signals from step 0 to the current step (at least one step) as an SVG line chart;
   * with `png: true` also a PNG beside it through sharp, when sharp is installed. Returns the paths.
   */
  async visualizeSignals(
    path: string,
    options: { png?: boolean; width?: number; height?: number; steps?: number } = {},
  ): Promise<{ svg: string; png?: string }> {
    const steps = Math.max(1, options.steps ?? this.#currentStep);
    this.#simulate(steps);
    const W = options.width ?? 800;
    const H = options.height ?? 400;
    const pad = 40;
    const x = (s: number) => pad + (steps <= 1 ? 0 : (s / (steps - 1)) * (W - 2 * pad));
    const y = (v: number) => H - pad - (v / SIGNAL_MAX) * (H - 2 * pad);
    const lines = this.values.map((val, v) => {
      const hue = Math.round((v * 360) / this.values.length);
      const pts: string[] = [];
      for (let s = 0; s < steps; s++)
        pts.push(`${x(s).toFixed(1)},${y(this.#signalHistory[s]![v]!).toFixed(1)}`);
      const label = `${val.column}=${String(val.value)}`.replace(/[<>&"]/g, '');
      return `<polyline fill="none" stroke="hsl(${hue},70%,45%)" stroke-width="1.5" points="${pts.join(' ')}"><title>${label}</title></polyline>`;
    });
    const svg = [
      `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">`,
      `<rect width="${W}" height="${H}" fill="white"/>`,
      `<line x1="${pad}" y1="${H - pad}" x2="${W - pad}" y2="${H - pad}" stroke="black"/>`,
      `<line x1="${pad}" y1="${pad}" x2="${pad}" y2="${H - pad}" stroke="black"/>`,
      `<text x="${pad}" y="${pad - 10}" font-family="sans-serif" font-size="12">signal (0-10) per domain value over ${steps} steps</text>`,
      `<text x="${pad - 30}" y="${y(SIGNAL_MAX) + 4}" font-family="sans-serif" font-size="10">10</text>`,
      `<text x="${pad - 30}" y="${y(0) + 4}" font-family="sans-serif" font-size="10">0</text>`,
      ...lines,
      '</svg>',
    ].join('\n');
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, svg);
    if (!options.png) return { svg: path };
    const sharp = await loadSharp();
    if (!sharp) {
      throw new StreamsError(
        'STREAMS_DATASET_UNAVAILABLE',
        '[streams/multistream] PNG output needs the optional dependency sharp',
        {
          fix: 'install sharp (npm i sharp), or write only the SVG',
        },
      );
    }
    const png = path.replace(/\.svg$/i, '') + '.png';
    await sharp(Buffer.from(svg)).png().toFile(png);
    return { svg: path, png };
  }

  /** Simulates signal updates and draws up to (excluding) step `until`. */
  #simulate(until: number): void {
    const o = this.#o;
    const V = this.values.length;
    while (this.#history.length < until) {
      const t = this.#history.length;
      if (this.#schedule) {
        // Signals given by a schedule per domain value (weights(t)), clipped to [0, 10].
        const w = this.#schedule.weightsAt(t);
        for (let v = 0; v < V; v++)
          this.#signals[v] = Math.min(SIGNAL_MAX, Math.max(SIGNAL_MIN, w[v]!));
        this.#signalHistory.push(Float32Array.from(this.#signals));
        this.#history.push({ step: t, examples: this.#draw() });
        continue;
      }
      if (t % o.duration === 0) this.#newTarget();
      for (let v = 0; v < V; v++) {
        const start = this.#start[v]!;
        if (t < start) this.#signals[v] = 0;
        else if (t - 1 < start)
          this.#signals[v] = SIGNAL_START; // just switched on
        else this.#signals[v] = this.#projectedStep(this.#signals[v]!, this.#target[v]!);
      }
      this.#signalHistory.push(Float32Array.from(this.#signals));
      this.#history.push({ step: t, examples: this.#draw() });
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

  /** Gumbel top-k: exactly a draw of k examples without replacement from softmax(logit / T). */
  #draw(): Uint32Array {
    const C = this.columns.length;
    const n = this.numExamples;
    const keys: Array<[number, number]> = [];
    for (let i = 0; i < n; i++) {
      if (this.#o.withoutReplacement && !this.#available[i]) continue;
      let m = Number.POSITIVE_INFINITY;
      for (let c = 0; c < C; c++) m = Math.min(m, this.#signals[this.#exampleValues[i * C + c]!]!);
      let u = this.#rng.float();
      while (u === 0) u = this.#rng.float();
      keys.push([m / this.#o.temperature - Math.log(-Math.log(u)), i]);
    }
    const k = Math.min(this.#o.batchSize, keys.length);
    keys.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    const out = new Uint32Array(k); // [k]
    for (let j = 0; j < k; j++) {
      const i = keys[j]![1];
      out[j] = i;
      if (this.#o.withoutReplacement) this.#available[i] = 0;
    }
    return out;
  }
}

type SharpFactory = (input: Buffer) => { png(): { toFile(path: string): Promise<unknown> } };

/** sharp is optional: loaded only when a PNG is asked for. */
async function loadSharp(): Promise<SharpFactory | undefined> {
  const name = 'sharp';
  try {
    const mod = (await import(name)) as { default?: SharpFactory };
    return mod.default ?? (mod as unknown as SharpFactory);
  } catch {
    return undefined;
  }
}
