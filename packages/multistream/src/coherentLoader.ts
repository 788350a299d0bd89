// The temporally coherent loader: K slots of T steps over any SequenceSource. Row r of batch b+1
// continues row r of batch b; sequences are decoded whole, ahead of need, by worker threads (or
// inline), and collated into one contiguous typed array per batch.
import {
  DTYPES,
  rng,
  StreamsError,
  signalReason,
  type TypedArray,
  throwIfAborted,
  type World,
  world,
} from '@streams/core';
import { Limiter, TransformPool } from '@streams/transforms';
import {
  type CoherentBatch,
  type CoherentState,
  coherentBatchCount,
  coherentBatches,
} from './coherentBatches.js';
import type { SequenceSource } from './sequenceSource.js';

/** One batch of a {@link CoherentLoader}: `[K, T, ...itemShape]` data with its masks. */
export interface CoherentDataBatch<D extends TypedArray = TypedArray> extends CoherentBatch {
  /** Items, row-major: cell (r, t) at `(r * T + t) * itemSize`; zeros where `padMask` is 1. */
  data: D; // [K, T, ...itemShape]
  /** `[K, T, ...itemShape]`. */
  shape: number[];
  /** Batch number in this rank's epoch (padding batches included). */
  index: number;
  epoch: number;
}

/** Builds a custom batch from the plan and a view of each cell's item (undefined where padded). */
export type CoherentCollate<B> = (
  plan: CoherentBatch & { index: number; epoch: number },
  item: (slot: number, step: number) => TypedArray | undefined,
) => B;

/** Where a {@link CoherentLoader} stands: enough to continue with the same rows. */
export interface CoherentLoaderState {
  version: 1;
  epoch: number;
  seed: number;
  slots: number;
  steps: number;
  worldSize: number;
  rank: number;
  /** Batches handed out this epoch (padding batches included). */
  batches: number;
  planner: CoherentState;
}

/** Options of {@link CoherentLoader.open}. */
export interface CoherentLoaderOptions<B> {
  source: SequenceSource;
  /** Rows per batch (K). */
  slots: number;
  /** Items per row per batch (T). */
  steps: number;
  seed?: number;
  /** Shuffle the sequence order each epoch (default true); false keeps the source order. */
  shuffle?: boolean;
  /** Rank layout (default: the launcher's, through `world()`); ranks read disjoint whole sequences. */
  world?: Pick<World, 'rank' | 'worldSize'>;
  /** Sequences decoded at once (default 2). */
  numWorkers?: number;
  /** Decode in worker threads when the source can (default true), in this pool if given. */
  threads?: boolean;
  pool?: TransformPool;
  /** Sequences decoded ahead of the rows' current ones (default `slots`). */
  prefetch?: number;
  /** A custom batch instead of {@link CoherentDataBatch}. */
  collate?: CoherentCollate<B>;
  /** Resume from a saved state. */
  state?: CoherentLoaderState;
  signal?: AbortSignal;
}

const STATE_VERSION = 1;

/**
 * Temporally coherent batches over a dataset of sequences, partitioned over ranks (every rank
 * whole sequences, every sequence once per epoch, every rank the same number of batches: short
 * ranks end with all-padding batches so collective steps never deadlock), resumable exactly.
 */
export class CoherentLoader<B = CoherentDataBatch> implements AsyncIterable<B>, AsyncDisposable {
  readonly source: SequenceSource;
  readonly slots: number;
  readonly steps: number;
  readonly seed: number;
  readonly rank: number;
  readonly worldSize: number;
  /** Items in each sequence. */
  readonly lengths: Uint32Array; // [sequences]
  readonly #o: CoherentLoaderOptions<B>;
  readonly #itemSize: number;
  readonly #limiter: Limiter;
  readonly #pool: TransformPool | undefined;
  readonly #ownPool: boolean;
  #epoch: number;
  #batches: number;
  #planner: CoherentState | undefined;
  #closed = false;

  private constructor(o: CoherentLoaderOptions<B>, lengths: Uint32Array) {
    const K = o.slots;
    const T = o.steps;
    if (!(Number.isInteger(K) && K >= 1 && Number.isInteger(T) && T >= 1)) {
      throw new StreamsError(
        'STREAMS_INVALID_CONFIG',
        `[streams/multistream] CoherentLoader needs integer slots >= 1 and steps >= 1, got ${K}, ${T}`,
        { fix: 'pass { slots: K, steps: T }' },
      );
    }
    const w = o.world ?? world();
    this.#o = o;
    this.source = o.source;
    this.slots = K;
    this.steps = T;
    this.seed = o.seed ?? 0;
    this.rank = w.rank;
    this.worldSize = w.worldSize;
    this.lengths = lengths;
    this.#itemSize = o.source.itemShape.reduce((a, b) => a * b, 1);
    const workers = o.numWorkers ?? 2;
    if (!(Number.isInteger(workers) && workers >= 1)) {
      throw new StreamsError(
        'STREAMS_INVALID_CONFIG',
        `[streams/multistream] numWorkers must be an integer >= 1, got ${workers}`,
        { fix: 'pass numWorkers: 1 or more' },
      );
    }
    this.#limiter = new Limiter(workers);
    const threads = (o.threads ?? true) && o.source.decoder !== undefined;
    this.#ownPool = threads && !o.pool;
    this.#pool = threads ? (o.pool ?? new TransformPool({ size: workers })) : undefined;
    const s = o.state;
    if (s) this.#checkState(s);
    this.#epoch = s?.epoch ?? 0;
    this.#batches = s?.batches ?? 0;
    this.#planner = s?.planner;
  }

  /** Reads the sequences' lengths (to plan) and returns the loader. */
  static async open<B = CoherentDataBatch>(
    options: CoherentLoaderOptions<B>,
  ): Promise<CoherentLoader<B>> {
    const lengths = Uint32Array.from(await options.source.lengths({ signal: options.signal }));
    if (lengths.length !== options.source.size) {
      throw new StreamsError(
        'STREAMS_INTERNAL',
        `[streams/multistream] source ${options.source.name} gave ${lengths.length} lengths for ${options.source.size} sequences`,
      );
    }
    return new CoherentLoader(options, lengths);
  }

  get epoch(): number {
    return this.#epoch;
  }

  /** This epoch's sequence order for all ranks (seeded by seed and epoch). */
  order(epoch = this.#epoch): Uint32Array {
    const n = this.source.size;
    return this.#o.shuffle === false
      ? Uint32Array.from({ length: n }, (_, i) => i)
      : rng(this.seed, epoch, 'coherent-order').permutation(n);
  }

  /** The sequences rank `rank` reads this epoch, in order: positions rank, rank + R, ... */
  rankOrder(rank = this.rank, epoch = this.#epoch): Uint32Array {
    const all = this.order(epoch);
    const out = new Uint32Array(Math.ceil(Math.max(0, all.length - rank) / this.worldSize)); // [sequences of the rank]
    for (let k = 0; k < out.length; k++) out[k] = all[rank + k * this.worldSize]!;
    return out;
  }

  /** Batches every rank makes this epoch: the most any rank needs. */
  batchesPerEpoch(epoch = this.#epoch): number {
    let most = 0;
    for (let r = 0; r < this.worldSize; r++)
      most = Math.max(
        most,
        coherentBatchCount(this.lengths, this.rankOrder(r, epoch), this.slots, this.steps),
      );
    return most;
  }

  /** The state after the last batch handed out. */
  state(): CoherentLoaderState {
    return {
      version: STATE_VERSION,
      epoch: this.#epoch,
      seed: this.seed,
      slots: this.slots,
      steps: this.steps,
      worldSize: this.worldSize,
      rank: this.rank,
      batches: this.#batches,
      planner: structuredClone(
        this.#planner ?? {
          next: 0,
          slotEntry: new Array(this.slots).fill(-1),
          slotPosition: new Array(this.slots).fill(0),
          batches: 0,
        },
      ),
    };
  }

  [Symbol.asyncIterator](): AsyncIterator<B> {
    return this.batches()[Symbol.asyncIterator]();
  }

  /** The rest of the current epoch; when it ends, the next iteration reads the next epoch. */
  async *batches(options: { signal?: AbortSignal } = {}): AsyncGenerator<B> {
    if (this.#closed) {
      throw new StreamsError(
        'STREAMS_INVALID_ARGUMENT',
        '[streams/multistream] the loader is closed',
        {
          fix: 'open a new CoherentLoader',
        },
      );
    }
    const signal = anySignal(options.signal, this.#o.signal);
    const epoch = this.#epoch;
    const order = this.rankOrder(this.rank, epoch);
    const total = this.batchesPerEpoch(epoch);
    const plan = coherentBatches(this.lengths, order, {
      slots: this.slots,
      steps: this.steps,
      state: this.#planner,
    });
    const ahead = this.#o.prefetch ?? this.slots;
    // Decodes by order entry: the rows' current sequences and the next `ahead` in plan order.
    const decoded = new Map<number, Promise<TypedArray>>();
    const ctl = new AbortController();
    const onAbort = () => ctl.abort(signalReason(signal!));
    signal?.addEventListener('abort', onAbort, { once: true });
    const startDecodes = (s: CoherentState) => {
      const wanted = s.slotEntry.filter((e) => e >= 0);
      for (let e = s.next; e < Math.min(order.length, s.next + ahead); e++) wanted.push(e);
      for (const e of wanted.sort((a, b) => a - b)) {
        if (decoded.has(e) || this.lengths[order[e]!] === 0) continue;
        const p = this.#decode(order[e]!, ctl.signal);
        p.catch(() => {}); // awaited where used; a dropped prefetch must not be unhandled
        decoded.set(e, p);
      }
    };
    try {
      const it = plan[Symbol.iterator]();
      startDecodes(plan.state());
      while (this.#batches < total) {
        throwIfAborted(signal);
        const before = plan.state();
        const next = it.next();
        const cells: CoherentBatch = next.done ? paddingBatch(this.slots, this.steps) : next.value;
        // Sequence id -> order entry for this batch's cells (rows keep their entries).
        const entryOf = new Map<number, number>();
        for (let e = before.next; e < plan.state().next; e++) entryOf.set(order[e]!, e);
        for (const e of before.slotEntry) if (e >= 0) entryOf.set(order[e]!, e);
        const views = new Map<number, TypedArray>();
        for (const [seq, e] of entryOf) {
          if (!cells.sequence.includes(seq)) continue;
          if (!decoded.has(e)) decoded.set(e, this.#decode(seq, ctl.signal));
          views.set(seq, await decoded.get(e)!);
        }
        const after = plan.state();
        // Sequences that ended in this batch are no longer needed.
        for (const [seq, e] of entryOf)
          if (!after.slotEntry.includes(e) && views.has(seq)) decoded.delete(e);
        startDecodes(after);
        const batch = this.#collate(cells, views, epoch);
        this.#planner = after;
        this.#batches++;
        yield batch;
      }
      this.#epoch = epoch + 1;
      this.#batches = 0;
      this.#planner = undefined;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      ctl.abort(new DOMException('[streams/multistream] iteration ended', 'AbortError'));
    }
  }

  /** Stops the worker threads (if the loader made them). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ownPool) await this.#pool?.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #decode(seq: number, signal: AbortSignal): Promise<TypedArray> {
    const length = this.lengths[seq]!;
    const src = this.source;
    const data = await this.#limiter.run(
      async () => {
        const raw = await src.fetch(seq, { signal });
        if (!this.#pool || !src.decoder) return src.decode(raw, length, { signal });
        const d = src.decoder;
        return this.#pool.run<TypedArray>(d.module, d.name, [raw, length, ...d.args], { signal });
      },
      { signal },
    );
    const expected = length * this.#itemSize;
    if (data.length !== expected) {
      throw new StreamsError(
        'STREAMS_DECODE_FAILED',
        `[streams/multistream] ${src.name}: sequence ${seq} decoded to ${data.length} values, expected ${length} items of [${src.itemShape.join(', ')}]`,
        { sample: seq, fix: 'check the source: its lengths() and decode() disagree' },
      );
    }
    return data;
  }

  #collate(cells: CoherentBatch, views: Map<number, TypedArray>, epoch: number): B {
    const { slots: K, steps: T } = this;
    const size = this.#itemSize;
    const item = (r: number, t: number) => {
      const cell = r * T + t;
      const seq = cells.sequence[cell]!;
      if (seq < 0) return undefined;
      const pos = cells.position[cell]!;
      return views.get(seq)!.subarray(pos * size, (pos + 1) * size);
    };
    const meta = { ...cells, index: this.#batches, epoch };
    if (this.#o.collate) return this.#o.collate(meta, item);
    const Ctor = DTYPES[this.source.dtype].array as unknown as new (n: number) => TypedArray;
    const data = new Ctor(K * T * size); // [K, T, ...itemShape]
    for (let r = 0; r < K; r++) {
      for (let t = 0; t < T; t++) {
        const v = item(r, t);
        if (v) (data as Uint8Array).set(v as Uint8Array, (r * T + t) * size);
      }
    }
    return { ...meta, data, shape: [K, T, ...this.source.itemShape] } as B;
  }

  #checkState(s: CoherentLoaderState): void {
    const mismatch = (
      [
        ['version', s.version, STATE_VERSION],
        ['seed', s.seed, this.seed],
        ['slots', s.slots, this.slots],
        ['steps', s.steps, this.steps],
        ['worldSize', s.worldSize, this.worldSize],
        ['rank', s.rank, this.rank],
      ] as const
    ).find(([, a, b]) => a !== b);
    if (mismatch) {
      throw new StreamsError(
        'STREAMS_STATE_INVALID',
        `[streams/multistream] coherent loader state has ${mismatch[0]} ${mismatch[1]}, the loader ${mismatch[2]}`,
        { fix: `resume with the same ${mismatch[0]} as the saved run` },
      );
    }
  }
}

function paddingBatch(K: number, T: number): CoherentBatch {
  return {
    sequence: new Int32Array(K * T).fill(-1), // [K, T]
    position: new Int32Array(K * T).fill(-1), // [K, T]
    resetMask: new Uint8Array(K * T), // [K, T]
    padMask: new Uint8Array(K * T).fill(1), // [K, T]
    slots: K,
    steps: T,
  };
}

function anySignal(...signals: Array<AbortSignal | undefined>): AbortSignal | undefined {
  const s = signals.filter((x): x is AbortSignal => x !== undefined);
  if (s.length <= 1) return s[0];
  return AbortSignal.any(s);
}
