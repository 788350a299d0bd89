import { type Rng, StreamsError } from '@streams/core';
import type { Batch } from './batch.js';

/**
 * How a buffer chooses what to keep:
 * - `reservoir`: a uniform sample of everything seen (Vitter's algorithm R);
 * - `classBalanced`: equal quotas per class seen, a reservoir inside each class (`greedy`: GDumb's rule, no replacement once a class holds its quota);
 * - `perExperience`: equal quotas per experience (capped at `perExperience`), a reservoir inside each;
 * - `weightedReservoir`: a sample with inclusion odds proportional to the sample weights (Efraimidis-Spirakis A-Res); kept samples then count with weight 1;
 * - `classRing`: the last `perClass` samples of each class in each experience, a ring buffer per class (the memory of the A-GEM reference code).
 */
export type MemoryPolicy =
  | 'reservoir'
  | 'classBalanced'
  | 'perExperience'
  | 'weightedReservoir'
  | 'classRing';

/** Options of a {@link MemoryBuffer}. */
export interface MemoryOptions {
  policy?: MemoryPolicy;
  /** At most this many samples. */
  size: number;
  /** At most this many bytes of sample data (the capacity is the smaller bound). */
  maxBytes?: number;
  /** `perExperience`: at most this many samples per experience (GEM's per-task memory). */
  perExperience?: number;
  /** `classBalanced`: GDumb's greedy rule. */
  greedy?: boolean;
  /** `classRing`: samples kept per class and experience (default: an even share of the capacity). */
  perClass?: number;
}

/** What a buffer holds, for logs and the trainer's report. */
export interface MemoryReport {
  policy: MemoryPolicy;
  /** Samples it can hold (the smaller of `size` and `maxBytes / bytesPerSample`). */
  capacity: number;
  /** Samples it holds. */
  size: number;
  /** Bytes allocated for sample data. */
  bytes: number;
  /** Samples offered to it so far. */
  seen: number;
  perClass: Record<number, number>;
  perExperience: Record<number, number>;
}

/** Which stored samples to draw from. */
export interface MemoryFilter {
  /** Only experiences with an id below this (A-GEM's and GEM's past experiences). */
  before?: number;
  /** Only this experience. */
  experience?: number;
}

interface Group {
  slots: number[];
  seen: number;
}

/** The JSON part of a buffer's saved state (its arrays are saved beside it). */
export interface MemoryMeta {
  options: MemoryOptions;
  layout: { xSize: number; ySize: number; yKind: 'int' | 'float' | 'none' } | null;
  groups: [number, number[], number][];
  free: number[];
  seen: number;
}

/** Every memory policy, for config schemas. */
export const MEMORY_POLICIES: readonly MemoryPolicy[] = [
  'reservoir',
  'classBalanced',
  'perExperience',
  'weightedReservoir',
  'classRing',
];

/** Class-keyed memories (`classBalanced`: by task and class; `classRing`: by experience and class) take class ids below this. */
const CLASS_IDS = 2 ** 20;

/**
 * An episodic memory of samples in preallocated typed arrays: bounded in samples and bytes,
 * deterministic for a given generator, saved and restored exactly.
 */
export class MemoryBuffer {
  readonly policy: MemoryPolicy;
  private layout: MemoryMeta['layout'] = null;
  private capacity = 0;
  private groups = new Map<number, Group>();
  private free: number[] = [];
  private seen = 0;
  private x = new Float32Array(0);
  private yi = new Int32Array(0);
  private yf = new Float32Array(0);
  private weight = new Float32Array(0);
  private task = new Int32Array(0);
  private exp = new Int32Array(0);
  private keys = new Float64Array(0);

  constructor(readonly options: MemoryOptions) {
    this.policy = options.policy ?? 'reservoir';
    if (!MEMORY_POLICIES.includes(this.policy)) {
      throw new StreamsError(
        'STREAMS_INVALID_CONFIG',
        `[streams/cl] unknown memory policy "${this.policy}"`,
        {
          fix: `use one of ${MEMORY_POLICIES.join(', ')}`,
        },
      );
    }
    if (!Number.isInteger(options.size) || options.size < 1) {
      throw new StreamsError(
        'STREAMS_INVALID_CONFIG',
        `[streams/cl] memory size must be a positive integer, got ${options.size}`,
        {
          fix: 'set memorySize (samples) to an integer >= 1',
        },
      );
    }
  }

  /** Samples held now. */
  get size(): number {
    return this.capacity - this.free.length;
  }

  /** Offers the `n` rows of `batch`, seen during `experience`. */
  add(batch: Batch, n: number, experience: number, rng: Rng): void {
    this.allocate(batch, n);
    for (let r = 0; r < n; r++) {
      this.seen++;
      if (this.policy === 'weightedReservoir') this.addWeighted(batch, r, experience, rng);
      else this.addGrouped(batch, r, experience, rng);
    }
  }

  /** Up to `n` distinct stored samples drawn uniformly (from those matching `filter`), or null if none match. */
  sample(n: number, rng: Rng, filter: MemoryFilter = {}): { batch: Batch; n: number } | null {
    const slots = this.slots(filter);
    if (slots.length === 0) return null;
    const k = Math.min(n, slots.length);
    const pick = rng.sample(slots.length, k).map((i) => slots[i]!);
    return { batch: this.gather(pick), n: k };
  }

  /** Every stored sample matching `filter`, in slot order. */
  all(filter: MemoryFilter = {}): { batch: Batch; n: number } | null {
    const slots = this.slots(filter);
    return slots.length === 0 ? null : { batch: this.gather(slots), n: slots.length };
  }

  /** The experience ids present, ascending. */
  experiences(): number[] {
    const set = new Set<number>();
    for (const s of this.occupied()) set.add(this.exp[s]!);
    return [...set].sort((a, b) => a - b);
  }

  report(): MemoryReport {
    const perClass: Record<number, number> = {};
    const perExperience: Record<number, number> = {};
    for (const s of this.occupied()) {
      perExperience[this.exp[s]!] = (perExperience[this.exp[s]!] ?? 0) + 1;
      if (this.layout?.yKind === 'int') perClass[this.yi[s]!] = (perClass[this.yi[s]!] ?? 0) + 1;
    }
    return {
      policy: this.policy,
      capacity: this.layout ? this.capacity : this.options.size,
      size: this.size,
      bytes: this.bytes(),
      seen: this.seen,
      perClass,
      perExperience,
    };
  }

  /** Bytes allocated for sample data. */
  bytes(): number {
    return [this.x, this.yi, this.yf, this.weight, this.task, this.exp, this.keys].reduce(
      (a, b) => a + b.byteLength,
      0,
    );
  }

  /** The state to save: JSON metadata and the arrays. */
  getState(): {
    meta: MemoryMeta;
    arrays: Record<string, Float32Array | Int32Array | Float64Array>;
  } {
    return {
      meta: {
        options: this.options,
        layout: this.layout,
        groups: [...this.groups].map(([k, g]) => [k, g.slots, g.seen]),
        free: this.free,
        seen: this.seen,
      },
      arrays: {
        x: this.x,
        yi: this.yi,
        yf: this.yf,
        weight: this.weight,
        task: this.task,
        exp: this.exp,
        keys: this.keys,
      },
    };
  }

  /** Restores {@link getState}'s output. */
  setState(meta: MemoryMeta, arrays: Record<string, ArrayBufferView>): void {
    this.layout = meta.layout;
    this.groups = new Map(meta.groups.map(([k, slots, seen]) => [k, { slots: [...slots], seen }]));
    this.free = [...meta.free];
    this.seen = meta.seen;
    const get = <T>(name: string, kind: new (...a: never[]) => T): T => {
      const a = arrays[name];
      if (!(a instanceof kind)) {
        throw new StreamsError(
          'STREAMS_STATE_INVALID',
          `[streams/cl] memory state lacks its "${name}" array`,
        );
      }
      return a;
    };
    this.x = get('x', Float32Array);
    this.yi = get('yi', Int32Array);
    this.yf = get('yf', Float32Array);
    this.weight = get('weight', Float32Array);
    this.task = get('task', Int32Array);
    this.exp = get('exp', Int32Array);
    this.keys = get('keys', Float64Array);
    this.capacity = this.weight.length;
  }

  private allocate(batch: Batch, n: number): void {
    const xSize = batch.x.length / n;
    const yKind =
      batch.y instanceof Int32Array ? 'int' : batch.y instanceof Float32Array ? 'float' : 'none';
    const ySize = batch.y ? batch.y.length / n : 0;
    if (this.layout) {
      const l = this.layout;
      if (l.xSize !== xSize || l.ySize !== ySize || l.yKind !== yKind) {
        throw new StreamsError(
          'STREAMS_INVALID_ARGUMENT',
          `[streams/cl] a batch with samples of ${xSize} inputs and ${ySize} ${yKind} targets does not fit a memory of ${l.xSize} inputs and ${l.ySize} ${l.yKind} targets`,
          { fix: 'feed one learner samples of one shape' },
        );
      }
      return;
    }
    if ((this.policy === 'classBalanced' || this.policy === 'classRing') && yKind !== 'int') {
      throw new StreamsError(
        'STREAMS_INVALID_CONFIG',
        `[streams/cl] a ${this.policy} memory needs class ids in batch.y`,
        {
          fix: "use policy 'reservoir' or 'perExperience' for regression and autoencoders",
        },
      );
    }
    const perSample = 4 * (xSize + ySize + 3) + (this.policy === 'weightedReservoir' ? 8 : 0);
    const byBytes =
      this.options.maxBytes === undefined
        ? Infinity
        : Math.floor(this.options.maxBytes / perSample);
    const capacity = Math.min(this.options.size, byBytes);
    if (capacity < 1) {
      throw new StreamsError(
        'STREAMS_INVALID_CONFIG',
        `[streams/cl] memory maxBytes ${this.options.maxBytes} cannot hold one sample of ${perSample} bytes`,
        { fix: `raise maxBytes to at least ${perSample}` },
      );
    }
    this.layout = { xSize, ySize, yKind };
    this.capacity = capacity;
    this.x = new Float32Array(capacity * xSize); // [capacity, xSize]
    this.yi = new Int32Array(yKind === 'int' ? capacity : 0); // [capacity]
    this.yf = new Float32Array(yKind === 'float' ? capacity * ySize : 0); // [capacity, ySize]
    this.weight = new Float32Array(capacity); // [capacity]
    this.task = new Int32Array(capacity); // [capacity]
    this.exp = new Int32Array(capacity); // [capacity]
    this.keys = new Float64Array(this.policy === 'weightedReservoir' ? capacity : 0); // [capacity]
    this.free = Array.from({ length: capacity }, (_, i) => capacity - 1 - i);
  }

  private classId(batch: Batch, r: number): number {
    const c = (batch.y as Int32Array)[r]!;
    if (!(c >= 0 && c < CLASS_IDS))
      throw new StreamsError(
        'STREAMS_INVALID_ARGUMENT',
        `[streams/cl] a ${this.policy} memory takes class ids in [0, ${CLASS_IDS}), got ${c}`,
        { fix: 'number the classes from 0' },
      );
    return c;
  }

  private groupKey(batch: Batch, r: number, experience: number): number {
    // A class of its task: task-incremental heads reuse labels (0 and 1 in every split-MNIST
    // task), and keyed by label alone a greedy memory would take no sample of a later task.
    if (this.policy === 'classBalanced')
      return (batch.task?.[r] ?? 0) * CLASS_IDS + this.classId(batch, r);
    if (this.policy === 'classRing') return experience * CLASS_IDS + this.classId(batch, r);
    if (this.policy === 'perExperience') return experience;
    return 0;
  }

  private quota(): number {
    const g = this.groups.size;
    if (this.policy === 'reservoir') return this.capacity;
    const even = Math.max(1, Math.floor(this.capacity / g));
    if (this.policy === 'perExperience') return Math.min(this.options.perExperience ?? even, even);
    if (this.policy === 'classRing') return Math.min(this.options.perClass ?? even, even);
    return even;
  }

  private addGrouped(batch: Batch, r: number, experience: number, rng: Rng): void {
    const key = this.groupKey(batch, r, experience);
    let g = this.groups.get(key);
    if (!g) {
      g = { slots: [], seen: 0 };
      this.groups.set(key, g);
    }
    g.seen++;
    if (g.slots.length < this.quota()) {
      const slot = this.free.pop() ?? this.evictLargest(rng);
      if (slot === undefined) return;
      this.write(slot, batch, r, experience, false);
      g.slots.push(slot);
    } else if (this.policy === 'classRing') {
      // The ring: the newest sample of a full class overwrites its oldest.
      const q = g.slots.length;
      this.write(g.slots[(g.seen - 1) % q]!, batch, r, experience, false);
    } else if (!this.options.greedy) {
      const j = rng.int(g.seen);
      if (j < g.slots.length) this.write(g.slots[j]!, batch, r, experience, false);
    }
  }

  /** Frees a random slot of the fullest group (ties: the smallest key). */
  private evictLargest(rng: Rng): number | undefined {
    let best: Group | undefined;
    for (const g of this.groups.values()) if (!best || g.slots.length > best.slots.length) best = g;
    if (!best || best.slots.length === 0) return undefined;
    const i = rng.int(best.slots.length);
    const slot = best.slots[i]!;
    best.slots[i] = best.slots[best.slots.length - 1]!;
    best.slots.pop();
    return slot;
  }

  private addWeighted(batch: Batch, r: number, experience: number, rng: Rng): void {
    const w = batch.weight?.[r] ?? 1;
    if (!(w > 0)) return;
    let u = rng.float();
    while (u === 0) u = rng.float();
    const key = Math.log(u) / w; // A-Res in log space: u^(1/w) ordered like log(u)/w
    let g = this.groups.get(0);
    if (!g) {
      g = { slots: [], seen: 0 };
      this.groups.set(0, g);
    }
    g.seen++;
    const slot = this.free.pop();
    if (slot !== undefined) {
      g.slots.push(slot);
      this.keys[slot] = key;
      this.write(slot, batch, r, experience, true);
      return;
    }
    let min = g.slots[0]!;
    for (const s of g.slots) if (this.keys[s]! < this.keys[min]!) min = s;
    if (key > this.keys[min]!) {
      this.keys[min] = key;
      this.write(min, batch, r, experience, true);
    }
  }

  private write(
    slot: number,
    batch: Batch,
    r: number,
    experience: number,
    weighted: boolean,
  ): void {
    const l = this.layout!;
    this.x.set(batch.x.subarray(r * l.xSize, (r + 1) * l.xSize), slot * l.xSize);
    if (l.yKind === 'int') this.yi[slot] = (batch.y as Int32Array)[r]!;
    else if (l.yKind === 'float')
      this.yf.set(
        (batch.y as Float32Array).subarray(r * l.ySize, (r + 1) * l.ySize),
        slot * l.ySize,
      );
    // Weighted selection already counts the weight; keeping it would count it twice.
    this.weight[slot] = weighted ? 1 : (batch.weight?.[r] ?? 1);
    this.task[slot] = batch.task?.[r] ?? 0;
    this.exp[slot] = experience;
  }

  private *occupied(): Generator<number> {
    const keys = [...this.groups.keys()].sort((a, b) => a - b);
    for (const k of keys) yield* this.groups.get(k)!.slots;
  }

  private slots(filter: MemoryFilter): number[] {
    const out: number[] = [];
    for (const s of this.occupied()) {
      const e = this.exp[s]!;
      if (filter.before !== undefined && e >= filter.before) continue;
      if (filter.experience !== undefined && e !== filter.experience) continue;
      out.push(s);
    }
    return out;
  }

  private gather(slots: readonly number[]): Batch {
    const l = this.layout!;
    const k = slots.length;
    const x = new Float32Array(k * l.xSize); // [k, xSize]
    const weight = new Float32Array(k); // [k]
    const task = new Int32Array(k); // [k]
    const yi = new Int32Array(l.yKind === 'int' ? k : 0); // [k]
    const yf = new Float32Array(l.yKind === 'float' ? k * l.ySize : 0); // [k, ySize]
    slots.forEach((s, i) => {
      x.set(this.x.subarray(s * l.xSize, (s + 1) * l.xSize), i * l.xSize);
      weight[i] = this.weight[s]!;
      task[i] = this.task[s]!;
      if (l.yKind === 'int') yi[i] = this.yi[s]!;
      else if (l.yKind === 'float')
        yf.set(this.yf.subarray(s * l.ySize, (s + 1) * l.ySize), i * l.ySize);
    });
    const batch: Batch = { x, weight, task };
    if (l.yKind === 'int') batch.y = yi;
    else if (l.yKind === 'float') batch.y = yf;
    return batch;
  }
}
