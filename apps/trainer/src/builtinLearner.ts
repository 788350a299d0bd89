// The stand-in learner until @streams/cl is wired in: multinomial logistic regression (one linear
// softmax head per task) trained by SGD, with optional experience replay from a reservoir memory.
// Plain TypeScript over typed arrays, deterministic to the bit for a given seed, and saved exactly.
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Rng, rng, StreamsError, throwIfAborted } from '@streams/core';
import type {
  Batch,
  EvalResult,
  Learner,
  LearnerShape,
  StepInfo,
  TrainExperienceOptions,
} from './learnerTypes.js';
import type { LearnerConfig } from './runConfig.js';

interface BuiltinState {
  version: 1;
  shape: LearnerShape;
  lr: number;
  memorySize: number;
  replayBatch: number;
  /** Samples offered to the reservoir so far, and samples it holds. */
  seen: number;
  stored: number;
  rng: [number, number, number, number];
}

/** Softmax regression with SGD and optional reservoir replay: the trainer's builtin learner. */
export class BuiltinLearner implements Learner {
  readonly description: string;
  readonly #s: BuiltinState;
  readonly #w: Float32Array; // [heads, inputSize, classes]
  readonly #b: Float32Array; // [heads, classes]
  readonly #memX: Float32Array; // [memorySize, inputSize]
  readonly #memY: Int32Array; // [memorySize]
  readonly #memT: Int32Array; // [memorySize]
  #rng: Rng;

  private constructor(
    s: BuiltinState,
    w?: Float32Array,
    b?: Float32Array,
    mem?: { x: Float32Array; y: Int32Array; t: Int32Array },
  ) {
    this.#s = s;
    const { inputSize: d, numClasses: c, heads: h } = s.shape;
    this.#w = w ?? new Float32Array(h * d * c);
    this.#b = b ?? new Float32Array(h * c);
    this.#memX = mem?.x ?? new Float32Array(s.memorySize * d);
    this.#memY = mem?.y ?? new Int32Array(s.memorySize);
    this.#memT = mem?.t ?? new Int32Array(s.memorySize);
    this.#rng = Rng.fromState(s.rng);
    this.description = `builtin softmax regression (plain TypeScript, SGD lr ${s.lr}${s.memorySize > 0 ? `, replay memory ${s.memorySize}` : ''})`;
  }

  /** A zero-initialised model (the loss is convex: no random init needed). */
  static create(cfg: LearnerConfig, shape: LearnerShape): BuiltinLearner {
    const replay = cfg.strategy.find((s) => s.name === 'replay');
    return new BuiltinLearner({
      version: 1,
      shape,
      lr: cfg.optimizer.lr,
      memorySize: replay ? (replay.memorySize ?? 200) : 0,
      replayBatch: replay?.batchSize ?? 0,
      seen: 0,
      stored: 0,
      rng: rng(shape.seed, 'builtin-learner', cfg.name).getState(),
    });
  }

  /** Restores a learner saved by {@link save}. */
  static async load(dir: string): Promise<BuiltinLearner> {
    let s: BuiltinState;
    try {
      s = JSON.parse(await readFile(join(dir, 'learner.json'), 'utf8')) as BuiltinState;
    } catch (cause) {
      throw new StreamsError(
        'STREAMS_STATE_INVALID',
        `[streams/trainer] no builtin learner state in ${dir}`,
        {
          cause,
          fix: 'resume from a checkpoint written by streams train',
        },
      );
    }
    const f32 = async (name: string) => {
      const buf = await readFile(join(dir, name));
      return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    };
    const i32 = async (name: string) => {
      const buf = await readFile(join(dir, name));
      return new Int32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    };
    return new BuiltinLearner(s, await f32('w.f32'), await f32('b.f32'), {
      x: await f32('memory-x.f32'),
      y: await i32('memory-y.i32'),
      t: await i32('memory-t.i32'),
    });
  }

  async save(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    const state: BuiltinState = { ...this.#s, rng: this.#rng.getState() };
    await writeFile(join(dir, 'learner.json'), `${JSON.stringify(state)}\n`);
    await writeFile(join(dir, 'w.f32'), this.#w);
    await writeFile(join(dir, 'b.f32'), this.#b);
    await writeFile(join(dir, 'memory-x.f32'), this.#memX);
    await writeFile(join(dir, 'memory-y.i32'), this.#memY);
    await writeFile(join(dir, 'memory-t.i32'), this.#memT);
  }

  async weightsHash(): Promise<string> {
    return createHash('sha256').update(this.#w).update(this.#b).digest('hex');
  }

  async trainExperience(batches: AsyncIterable<Batch>, o: TrainExperienceOptions): Promise<void> {
    for (let e = 0; e < o.epochs; e++) {
      for await (const batch of batches) {
        throwIfAborted(o.signal);
        const info = this.#step(batch);
        await o.onStep?.(info);
      }
    }
  }

  async evaluate(
    batches: AsyncIterable<Batch>,
    o: { signal?: AbortSignal } = {},
  ): Promise<EvalResult> {
    const c = this.#s.shape.numClasses;
    const p = new Float64Array(c); // [classes]
    let correct = 0;
    let loss = 0;
    let count = 0;
    for await (const batch of batches) {
      throwIfAborted(o.signal);
      for (let i = 0; i < batch.y.length; i++) {
        const r = this.#forward(batch.x, i, batch.task?.[i] ?? 0, batch.y[i]!, p);
        loss += r.loss;
        if (r.correct) correct++;
        count++;
      }
    }
    return { accuracy: count > 0 ? correct / count : 0, loss: count > 0 ? loss / count : 0, count };
  }

  /** Softmax probabilities of sample `i` into `p`; its loss and whether the argmax is right. */
  #forward(
    x: Float32Array,
    i: number,
    head: number,
    y: number,
    p: Float64Array,
  ): { loss: number; correct: boolean } {
    const { inputSize: d, numClasses: c } = this.#s.shape;
    const w = this.#w;
    const wBase = head * d * c;
    for (let k = 0; k < c; k++) p[k] = this.#b[head * c + k]!;
    const xBase = i * d;
    for (let j = 0; j < d; j++) {
      const v = x[xBase + j]!;
      if (v === 0) continue;
      const row = wBase + j * c;
      for (let k = 0; k < c; k++) p[k]! += v * w[row + k]!;
    }
    let max = -Infinity;
    let arg = 0;
    for (let k = 0; k < c; k++) {
      if (p[k]! > max) {
        max = p[k]!;
        arg = k;
      }
    }
    let sum = 0;
    for (let k = 0; k < c; k++) {
      p[k] = Math.exp(p[k]! - max);
      sum += p[k]!;
    }
    for (let k = 0; k < c; k++) p[k]! /= sum;
    return { loss: -Math.log(Math.max(p[y]!, 1e-12)), correct: arg === y };
  }

  /** One SGD step on the batch plus replayed memory samples, then the reservoir update. */
  #step(batch: Batch): StepInfo {
    const { inputSize: d, numClasses: c } = this.#s.shape;
    const n = batch.y.length;
    for (let i = 0; i < n; i++) {
      if (!(batch.y[i]! >= 0 && batch.y[i]! < c)) {
        throw new StreamsError(
          'STREAMS_INVALID_ARGUMENT',
          `[streams/trainer] label ${batch.y[i]} is outside the model's ${c} classes`,
          {
            sample: i,
            fix: 'check the label column and the class count of the streams',
          },
        );
      }
    }
    const replay = this.#s.memorySize > 0 ? Math.min(this.#s.stored, this.#s.replayBatch || n) : 0;
    const picks = Array.from({ length: replay }, () => this.#rng.int(this.#s.stored));
    const gw = new Float64Array(this.#w.length); // [heads, inputSize, classes]
    const gb = new Float64Array(this.#b.length); // [heads, classes]
    const p = new Float64Array(c); // [classes]
    let loss = 0;
    let correct = 0;
    let weightSum = 0;
    const accumulate = (x: Float32Array, i: number, head: number, y: number, weight: number) => {
      const r = this.#forward(x, i, head, y, p);
      p[y]! -= 1; // dLoss/dLogits = p - onehot(y)
      const wBase = head * d * c;
      const xBase = i * d;
      for (let k = 0; k < c; k++) gb[head * c + k]! += weight * p[k]!;
      for (let j = 0; j < d; j++) {
        const v = x[xBase + j]!;
        if (v === 0) continue;
        const row = wBase + j * c;
        for (let k = 0; k < c; k++) gw[row + k]! += weight * v * p[k]!;
      }
      weightSum += weight;
      return r;
    };
    for (let i = 0; i < n; i++) {
      const r = accumulate(batch.x, i, batch.task?.[i] ?? 0, batch.y[i]!, batch.weight?.[i] ?? 1);
      loss += r.loss;
      if (r.correct) correct++;
    }
    for (const m of picks) accumulate(this.#memX, m, this.#memT[m]!, this.#memY[m]!, 1);
    if (weightSum > 0) {
      const scale = this.#s.lr / weightSum;
      for (let k = 0; k < gw.length; k++) this.#w[k]! -= scale * gw[k]!;
      for (let k = 0; k < gb.length; k++) this.#b[k]! -= scale * gb[k]!;
    }
    if (this.#s.memorySize > 0) this.#remember(batch);
    return { loss: n > 0 ? loss / n : 0, samples: n, accuracy: n > 0 ? correct / n : 0 };
  }

  /** Reservoir sampling: every sample seen so far is in memory with the same probability. */
  #remember(batch: Batch): void {
    const d = this.#s.shape.inputSize;
    const m = this.#s.memorySize;
    for (let i = 0; i < batch.y.length; i++) {
      const seen = this.#s.seen++;
      const slot = seen < m ? seen : this.#rng.int(seen + 1);
      if (slot >= m) continue;
      this.#memX.set(batch.x.subarray(i * d, (i + 1) * d), slot * d);
      this.#memY[slot] = batch.y[i]!;
      this.#memT[slot] = batch.task?.[i] ?? 0;
    }
    this.#s.stored = Math.min(m, this.#s.seen);
  }
}
