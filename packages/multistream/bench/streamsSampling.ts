// STREAMS sampling cost: steps/s of StreamsWaveform over Fashion-MNIST's 60,000 training labels at
// batch 16, against two references run in the same process, in paired alternating rounds:
//  - "before": the sampling of the previous StreamsWaveform (commit 56e8f90), reproduced here: a
//    Gumbel key for every available example and a full sort per step;
//  - "naive": softmax over all examples per step (logit of each example, exp, prefix sums), then k
//    inverse-CDF draws, redrawing duplicates.
// Both references draw from the same signals (min over the example's domain values) as ours.
import { rng } from '@streams/core';
import { type BenchEntry, benchEntry, median } from '@streams/testkit';
import { loadDataset, StreamsWaveform } from '../src/index.js';

const BATCH = 16;

/** The per-step draw of the previous implementation: Gumbel top-k by a full sort. */
function beforeDraw(
  labels: Int32Array,
  signals: Float64Array,
  available: Uint8Array,
  r: ReturnType<typeof rng>,
) {
  const keys: Array<[number, number]> = [];
  for (let i = 0; i < labels.length; i++) {
    if (!available[i]) continue;
    let u = r.float();
    while (u === 0) u = r.float();
    keys.push([signals[labels[i]!]! - Math.log(-Math.log(u)), i]);
  }
  keys.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  const out = new Uint32Array(BATCH); // [k]
  for (let j = 0; j < BATCH; j++) {
    out[j] = keys[j]![1];
    available[out[j]!] = 0;
  }
  return out;
}

/** Softmax over every available example, k inverse-CDF draws with duplicates redrawn. */
function naiveDraw(
  labels: Int32Array,
  signals: Float64Array,
  available: Uint8Array,
  r: ReturnType<typeof rng>,
) {
  const n = labels.length;
  const cdf = new Float64Array(n); // [n]
  let total = 0;
  for (let i = 0; i < n; i++) {
    total += available[i] ? Math.exp(signals[labels[i]!]! - 10) : 0;
    cdf[i] = total;
  }
  const out = new Uint32Array(BATCH); // [k]
  for (let j = 0; j < BATCH; ) {
    const u = r.float() * total;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! > u) hi = mid;
      else lo = mid + 1;
    }
    if (!available[lo]) continue;
    available[lo] = 0;
    out[j++] = lo;
  }
  return out;
}

/** Steps/s of a reference draw over `steps` steps with signals from a real waveform. */
function reference(
  draw: typeof beforeDraw,
  labels: Int32Array,
  signalsAt: (t: number) => Float32Array,
  steps: number,
): number {
  const available = new Uint8Array(labels.length).fill(1);
  const r = rng(1, 'bench');
  const signals = new Float64Array(10);
  const t0 = performance.now();
  for (let t = 0; t < steps; t++) {
    signals.set(signalsAt(t));
    draw(labels, signals, available, r);
  }
  return steps / ((performance.now() - t0) / 1000);
}

/** The STREAMS sampling entries. */
export async function streamsSamplingBench(): Promise<BenchEntry[]> {
  const ds = await loadDataset('fashion-mnist', { progress: false });
  const labels = ds.y;
  // Signals precomputed once (shared by the references): the sampling is what is measured.
  const schedule = new StreamsWaveform({ domains: { label: labels }, seed: 1, batchSize: BATCH });
  const signals = (t: number) => schedule.signalsAt(t);
  signals(4000);
  const ours = (steps: number) => {
    const w = new StreamsWaveform({ domains: { label: labels }, seed: 1, batchSize: BATCH });
    const t0 = performance.now();
    w.step(steps);
    return steps / ((performance.now() - t0) / 1000);
  };
  ours(500); // warm-up
  reference(beforeDraw, labels, signals, 5);
  reference(naiveDraw, labels, signals, 50);
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  const a: number[] = [];
  const b: number[] = [];
  const c: number[] = [];
  for (let k = 0; k < rounds; k++) {
    // Alternating order: the machine is shared, so no side always runs first.
    if (k % 2 === 0) {
      a.push(ours(3750));
      b.push(reference(beforeDraw, labels, signals, 60));
      c.push(reference(naiveDraw, labels, signals, 600));
    } else {
      c.push(reference(naiveDraw, labels, signals, 600));
      b.push(reference(beforeDraw, labels, signals, 60));
      a.push(ours(3750));
    }
  }
  const value = median(a);
  return [
    benchEntry({
      name: 'STREAMS step, batch 16 over Fashion-MNIST 60k (grouped sampling) vs the previous implementation',
      unit: 'steps/s',
      value,
      reference: 'previous StreamsWaveform sampling (Gumbel keys, full sort per step)',
      referenceValue: median(b),
    }),
    benchEntry({
      name: 'STREAMS step, batch 16 over Fashion-MNIST 60k (grouped sampling) vs naive softmax over all examples',
      unit: 'steps/s',
      value,
      reference: 'softmax over all 60k examples per step, inverse-CDF draws',
      referenceValue: median(c),
    }),
    benchEntry({
      name: 'STREAMS step, batch 16 over Fashion-MNIST 60k: time per step',
      unit: 'ms',
      value: 1000 / value,
      reference: 'target',
      referenceValue: 1,
      lowerIsBetter: true,
      target: 1,
    }),
  ];
}
