// The loop over one slice of global positions: the prefetch window takes references on the units
// (and rows' files) of the next samples, samples are decoded (and transformed) as their data
// arrives, and handed out in chunks.
import { rng, throwIfAborted } from '@streams/core';
import type { LoadedUnit, Sample } from '@streams/index';
import type { SampleInfo, SampleTransform } from './datasetOptions.js';
import { type DecodePolicy, SKIPPED } from './decodePolicy.js';
import { rangeOf } from './epochPlan.js';
import type { PlanSlice } from './partition.js';
import { UnitLoader } from './unitLoader.js';

/**
 * Ready samples handed out together: item j is slot `start + j` of the rank's slice, so where the
 * job stands after it and its stream are read from the slice's arrays, not stored per item.
 */
export interface Chunk {
  items: unknown[];
  start: number;
  positions: Float64Array; // [slots]
  streams: Uint16Array; // [slots]
  /** The global sequence's end (positions past it are padding). */
  end: number;
  /** width - group: a slot at global position p means positions < p + lag are consumed. */
  lag: number;
}

/** Global samples consumed once item j of the chunk is handed out. */
export function seenAt(c: Chunk, j: number): number {
  const p = c.positions[c.start + j]! + c.lag;
  return p < c.end ? p : c.end;
}

/** The plan figures a slice is read against. */
export interface SlicePlan {
  epoch: number;
  streamOffsets: readonly number[];
  shardOffsets: readonly (readonly number[])[];
  end: number;
}

/** What the window needs from its dataset. */
export interface WindowContext<T> {
  loader: UnitLoader;
  transform: SampleTransform<T> | undefined;
  policy: DecodePolicy;
  seed: number;
  batchSize: number;
  predownload: number | undefined;
  decodeAhead: number | undefined;
  /** Adds the milliseconds the consumer waited. */
  waited(ms: number): void;
}

const CHUNK = 256;

/** Where the hot path's prefetch loads go, so the compiler keeps them. */
const prefetchSink = new Int32Array(1);

/** A loaded MDS shard exposes `touch`: reading a byte ahead overlaps cache misses. */
type Touchable = LoadedUnit & { touch?(j: number): number };

/**
 * Decodes and transforms one sample: the transform gets `rng(seed, epoch, 'transform', id,
 * position)`; a failure goes to the decode policy with the sample's coordinates.
 */
export async function decodeSample<T>(
  ctx: WindowContext<T>,
  info: SampleInfo,
  signal: AbortSignal | undefined,
  release?: () => void,
): Promise<T | typeof SKIPPED> {
  const st = ctx.loader.streams[info.stream]!;
  const coords = { stream: st.label, shard: st.ds.units[info.shard]!.name, sample: info.index };
  let out: T | undefined;
  try {
    let raw: Sample;
    try {
      const { unit, j } = await ctx.loader.loaded(info.stream, info.shard, info.index);
      raw = unit.decode(j);
    } finally {
      // The sample is decoded (or failed): its references go now.
      release?.();
    }
    const t = ctx.transform;
    out = t
      ? await t(raw, rng(ctx.seed, info.epoch, 'transform', info.id, info.position), {
          signal,
          coords,
          reader: st.reader,
        })
      : (raw as T);
  } catch (cause) {
    return ctx.policy.fail(cause, { ...coords, id: info.id, position: info.position }, signal);
  }
  return out === undefined ? ctx.policy.drop() : out;
}

/** The loop over one slice of global positions: prefetch window, decode, chunks. */
export async function* runSlice<T>(
  ctx: WindowContext<T>,
  withInfo: boolean,
  signal: AbortSignal | undefined,
  plan: SlicePlan,
  slice: PlanSlice,
): AsyncGenerator<Chunk> {
  const { loader } = ctx;
  const pool = loader.pool;
  const n = slice.ids.length;
  const b = ctx.batchSize;
  const ahead = Math.max(1, ctx.predownload ?? Math.max(512, 8 * b));
  const decodeAhead = Math.max(1, Math.min(ahead, ctx.decodeAhead ?? 2 * b + 8));
  loader.epoch = plan.epoch;
  // Where each slot's sample lives, filled as slots enter the window.
  const locStream = new Uint16Array(n); // [n]
  const locShard = new Uint32Array(n); // [n]
  const locIndex = new Uint32Array(n); // [n]
  const pending = new Map<number, Promise<T | typeof SKIPPED>>();
  const streamOffsets = plan.streamOffsets;
  const streams = loader.streams;
  const rows = streams.map((_, s) => loader.refsSamples(s));
  const anyRows = rows.some(Boolean); // false on the hot path: no per-sample row bookkeeping
  // Streams read in parts reference samples only; the others their units (and rows' files).
  const whole = streams.map((_, s) => !loader.readsParts(s));
  const unitBytes = streams.map((st, s) => st.ds.units.map((_, u) => loader.unitBytes(s, u)));
  const unitMemory = streams.map((st, s) => st.ds.units.map((_, u) => loader.unitMemory(s, u)));
  const refs = streams.map((st) => new Int32Array(st.ds.units.length)); // [streams][units]
  // Under a memory limit the window counts bytes, not only samples: it takes no further reference
  // once the units it references reach the resident half of the limit, or the samples it reads
  // ahead in parts a quarter of the limit (read-ahead enough for a disk, leaving room for samples
  // the consumer holds); but it always takes one on the sample the consumer reads next.
  const cap = loader.residentLimit;
  const bounded = cap !== Number.POSITIVE_INFINITY;
  let windowBytes = 0;
  let partBytes = 0;
  const more = (i: number) => (windowBytes < cap && partBytes < cap / 2) || refd <= i;
  const refAt = (i: number) => {
    const id = slice.ids[i]!;
    let stream = 0;
    while (streamOffsets[stream + 1]! <= id) stream++;
    const offs = plan.shardOffsets[stream]!;
    let lo = rangeOf(offs, id);
    while (offs[lo + 1]! <= id) lo++; // skip empty units
    locStream[i] = stream;
    locShard[i] = lo;
    const j = id - offs[lo]!;
    locIndex[i] = j;
    if (!whole[stream]) {
      loader.refRow(stream, lo, j);
      partBytes += loader.sampleMemory(stream, lo);
      return;
    }
    if (refs[stream]![lo]!++ === 0) {
      const memory = unitMemory[stream]![lo]!;
      pool.ref(UnitLoader.unitKey(stream, lo), unitBytes[stream]![lo]!, memory);
      windowBytes += memory;
    }
    if (anyRows && rows[stream]) loader.refRow(stream, lo, j);
  };
  // The pool sees one reference per unit the window holds (taken and dropped on the window's
  // own counts), not one per sample: no Map lookup per sample. A sample read in parts leaves the
  // pool once decoded, but its bytes count against the read-ahead until it is handed out
  // (`handedOut`): decoded samples waiting for the consumer are read-ahead too.
  const drop = (stream: number, shard: number, j: number, handedOut = true) => {
    if (anyRows && rows[stream]) loader.unrefRow(stream, shard, j);
    if (!whole[stream]) {
      if (handedOut) partBytes -= loader.sampleMemory(stream, shard);
      return;
    }
    if (--refs[stream]![shard]! === 0) {
      const key = UnitLoader.unitKey(stream, shard);
      pool.unref(key);
      windowBytes -= unitMemory[stream]![shard]!;
      if (key === lastKey) lastKey = -1; // it may leave memory now
    }
  };
  // The unit last looked up (hot path): loaded, and held while the window references it.
  let lastKey = -1;
  let last: Touchable | undefined;
  /** The unit of the chunk's latest sample (hot path, under a memory bound). */
  let chunkKey = -1;
  const infoAt = (i: number): SampleInfo => ({
    id: slice.ids[i]!,
    stream: locStream[i]!,
    shard: locShard[i]!,
    index: locIndex[i]!,
    epoch: plan.epoch,
    position: slice.positions[i]!,
    padding: slice.padding[i] === 1,
  });
  // What a chunk needs to tell the consumer where the job stands after each of its items.
  const newChunk = (start: number): Chunk => ({
    items: [],
    start,
    positions: slice.positions,
    streams: locStream,
    end: plan.end,
    lag: slice.width - slice.group,
  });
  let chunk = newChunk(0);
  let refd = 0;
  let decoded = 0;
  try {
    if (ctx.transform === undefined && !anyRows) {
      // Hot path: samples of units already in memory are decoded straight from the unit, a chunk
      // at a time, with no promise and no allocation but the sample itself. Only a sample whose
      // unit is not loaded yet hands out the chunk so far and awaits.
      let i = 0;
      while (i < n) {
        throwIfAborted(signal);
        const stop = Math.min(n, i + CHUNK);
        const items = chunk.items;
        // Touch the chunk's samples first, in one tight loop of independent loads: in a shuffled
        // order each sample is a cache (and TLB) miss, and here the CPU overlaps them, where
        // the decode loop below, allocating between loads, would take them one at a time.
        while (refd < Math.min(n, i + ahead) && more(i)) refAt(refd++);
        const touchEnd = Math.min(stop, refd);
        let touched = 0;
        for (let k = i; k < touchEnd; k++) {
          const key = UnitLoader.unitKey(locStream[k]!, locShard[k]!);
          const unit = key === lastKey ? last : (pool.peek(key) as Touchable | undefined);
          if (unit === undefined || unit.touch === undefined) break;
          lastKey = key;
          last = unit;
          touched += unit.touch(locIndex[k]!);
        }
        prefetchSink[0] = touched;
        for (; i < stop; i++) {
          const want = i + ahead < n ? i + ahead : n;
          while (refd < want && more(i)) refAt(refd++);
          const stream = locStream[i]!;
          const key = UnitLoader.unitKey(stream, locShard[i]!);
          // Under a memory bound the chunk's units stay referenced until it is handed out: while
          // loads wait for room, a chunk ends where its unit does, so each unit is let go once its
          // samples are handed out rather than after the whole chunk (up to 256 samples, which in
          // order can span every unit in memory, stalling the read-ahead until they are all used).
          if (bounded && items.length > 0 && key !== chunkKey && pool.queueDepth > 0) break;
          chunkKey = key;
          let unit = key === lastKey ? last : (pool.peek(key) as Touchable | undefined);
          if (unit === undefined) {
            if (items.length > 0) break;
            const t0 = performance.now();
            pool.urge(key);
            unit = await pool.get(key);
            ctx.waited(performance.now() - t0);
          }
          lastKey = key;
          last = unit;
          let sample: Sample;
          if (bounded) {
            // Its sample is a view of the unit: the unit stays referenced (counted) until the
            // chunk is handed out.
            sample = unit.decode(locIndex[i]!);
          } else {
            decoded = i + 1;
            try {
              sample = unit.decode(locIndex[i]!);
            } finally {
              drop(stream, locShard[i]!, locIndex[i]!);
            }
          }
          items.push(withInfo ? { sample, info: infoAt(i) } : sample);
        }
        if (items.length > 0) {
          yield chunk;
          chunk = newChunk(i);
        }
        for (; decoded < i; decoded++)
          drop(locStream[decoded]!, locShard[decoded]!, locIndex[decoded]!);
      }
      return;
    }
    for (let i = 0; i < n; i++) {
      throwIfAborted(signal);
      while (refd < Math.min(n, i + ahead) && more(i)) refAt(refd++);
      while (decoded < Math.min(refd, i + decodeAhead)) {
        const k = decoded++;
        const p = decodeSample(ctx, infoAt(k), signal, () =>
          drop(locStream[k]!, locShard[k]!, locIndex[k]!, false),
        );
        p.catch(() => undefined);
        pending.set(k, p);
      }
      if (chunk.items.length > 0) {
        yield chunk;
        chunk = newChunk(i);
      }
      const t0 = performance.now();
      const sample: T | typeof SKIPPED = await pending.get(i)!;
      ctx.waited(performance.now() - t0);
      pending.delete(i);
      if (!whole[locStream[i]!]) partBytes -= loader.sampleMemory(locStream[i]!, locShard[i]!);
      chunk.items.push(withInfo && sample !== SKIPPED ? { sample, info: infoAt(i) } : sample);
    }
    if (chunk.items.length > 0) yield chunk;
  } finally {
    // Early exit or error: drop the references still held by the window.
    for (let k = decoded; k < refd; k++) drop(locStream[k]!, locShard[k]!, locIndex[k]!);
    await Promise.allSettled(pending.values());
  }
}
