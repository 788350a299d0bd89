// Benchmarks of the TensorFlow.js backends, each against its reference measured in the same run,
// as medians of paired, alternating rounds:
//  1. the WASM training kernels of src/kernels (calls/s) against the cpu backend's own kernels;
//  2. training steps/s of a small CNN on wasm against cpu;
//  3. when the native backend is built: training steps/s of the 784-256-256-10 MLP at batch 128
//     and of the small CNN on native tensorflow against wasm;
//  4. native intra-op threads: steps/s and CPU time per step of our default (defaultNativeThreads)
//     against TensorFlow's own, and CPU time of 1 against 2 threads, one process per setting
//     (TensorFlow reads the count once).
// Run with `pnpm --filter @streams/cl bench` (or `pnpm bench` for every package).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type BenchEntry, benchEntry, benchTable, median } from '@streams/testkit';
import * as tf from '@tensorflow/tfjs-core';
import { type BackendName, defaultNativeThreads, selectBackend } from '../src/backend.js';
import { instantiate, type OpsModel } from '../test/opsModel.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
/** `kernels`, `train` or `threads` to run one part only (default: all). */
const ONLY = process.env.BENCH_ONLY;
const part = (name: string) => ONLY === undefined || ONLY === name;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 1.5); // per measurement

const MLP: OpsModel = {
  params: { w1: [784, 256], b1: [256], w2: [256, 256], b2: [256], w3: [256, 10], b3: [10] },
  inputs: { x: { shape: [128, 784] }, y: { shape: [128], classes: 10 } },
  loss: (p, { x, y }) => {
    const h1 = tf.relu(tf.add(tf.matMul(x!, p.w1!), p.b1!));
    const h2 = tf.relu(tf.add(tf.matMul(h1, p.w2!), p.b2!));
    const logits = tf.add(tf.matMul(h2, p.w3!), p.b3!);
    return tf.losses.softmaxCrossEntropy(tf.oneHot(y as tf.Tensor1D, 10), logits);
  },
};

/** 2 conv layers (3x3, 16 and 32 filters, the second at stride 2), max pool, dense; MNIST-sized. */
const cnn = (b: number): OpsModel => ({
  params: {
    k1: [3, 3, 1, 16],
    c1: [16],
    k2: [3, 3, 16, 32],
    c2: [32],
    w: [7 * 7 * 32, 10],
    b: [10],
  },
  inputs: { x: { shape: [b, 28, 28, 1] }, y: { shape: [b], classes: 10 } },
  loss: (p, { x, y }) => {
    const a = tf.relu(tf.add(tf.conv2d(x as tf.Tensor4D, p.k1 as tf.Tensor4D, 1, 'same'), p.c1!));
    const pooled = tf.maxPool(a as tf.Tensor4D, 2, 2, 'valid'); // [b, 14, 14, 16]
    const h = tf.relu(tf.add(tf.conv2d(pooled, p.k2 as tf.Tensor4D, 2, 'same'), p.c2!)); // [b, 7, 7, 32]
    const logits = tf.add(tf.matMul(tf.reshape(h, [b, 7 * 7 * 32]), p.w!), p.b!);
    return tf.losses.softmaxCrossEntropy(tf.oneHot(y as tf.Tensor1D, 10), logits);
  },
});

/** A training loop on one backend: SGD steps over one fixed batch; each step reads its loss. */
function trainer(
  backend: BackendName,
  model: OpsModel,
): { step(): Promise<void>; dispose(): void } {
  tf.setBackend(backend);
  const m = instantiate(model, 1);
  const optimizer = tf.train.sgd(0.01);
  return {
    async step() {
      await m.step(optimizer);
    },
    dispose() {
      m.dispose();
      optimizer.dispose();
    },
  };
}

/** Calls/s of `fn` on `backend` over about SECONDS, after one warm-up call. */
async function rate(backend: BackendName, fn: () => Promise<void>): Promise<number> {
  await tf.setBackend(backend);
  await fn();
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < SECONDS * 1000 || n < 1) {
    await fn();
    n++;
  }
  return n / ((performance.now() - t0) / 1000);
}

/** Medians of `value` and `reference` measured in `rounds` alternating pairs. */
async function paired(
  value: () => Promise<number>,
  reference: () => Promise<number>,
  rounds = ROUNDS,
) {
  const v: number[] = [];
  const ref: number[] = [];
  for (let i = 0; i < rounds; i++) {
    v.push(await value());
    ref.push(await reference());
  }
  return { value: median(v), referenceValue: median(ref) };
}

/** One kernel call on the active backend, with random inputs made once per backend. */
function kernelCall(
  kernel: string,
  inputs: Record<string, number[]>,
  attrs: object,
): () => Promise<void> {
  const made = new Map<string, tf.NamedTensorMap>();
  return async () => {
    const backend = tf.getBackend();
    let tensors = made.get(backend);
    if (!tensors) {
      tensors = Object.fromEntries(
        Object.entries(inputs).map(([n, shape]) => [
          n,
          tf.randomUniform(shape, -1, 1, 'float32', 3),
        ]),
      );
      made.set(backend, tensors);
    }
    const out = tf.engine().runKernel(kernel, tensors, attrs as tf.NamedAttrMap) as tf.Tensor;
    await out.data();
    out.dispose();
  };
}

/** One measurement of a native process: wall-clock steps/s, and CPU time the process spent per step. */
interface NativeRun {
  stepsPerSecond: number;
  cpuMsPerStep: number;
}

/**
 * A process training the MLP on native with its own TF_NUM_INTRAOP_THREADS (undefined: unset, so
 * TensorFlow picks); `measure()` runs it for SECONDS. They stay up, so rounds alternate closely.
 * CPU time per step hardly depends on what else shares the cores, unlike steps/s: on a crowded
 * machine a process with more threads gets a larger share of them.
 */
function nativeProcess(threads: string | undefined) {
  const env: NodeJS.ProcessEnv = { ...process.env, BENCH_CHILD: 'native-mlp' };
  if (threads === undefined) delete env.TF_NUM_INTRAOP_THREADS;
  else env.TF_NUM_INTRAOP_THREADS = threads;
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
    env,
    stdio: ['pipe', 'pipe', 'ignore'], // stderr: TensorFlow's start-up lines
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return {
    async measure(): Promise<NativeRun> {
      child.stdin.write('measure\n');
      const { value, done } = await lines.next();
      if (done) throw new Error(`the native bench process (threads ${threads}) exited`);
      return JSON.parse(value) as NativeRun;
    },
    close: () => child.stdin.end(),
  };
}

// A child process: MLP steps/s on native with the thread count from its environment, once per
// line read. It loads tfjs-node directly: selectBackend would set the thread count.
if (process.env.BENCH_CHILD === 'native-mlp') {
  const { loadNativePackage } = await import('../src/backendPackages.js');
  loadNativePackage('@tensorflow/tfjs-node');
  const t = trainer('tensorflow', MLP);
  await t.step(); // warm-up
  for await (const _ of createInterface({ input: process.stdin })) {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let steps = 0;
    while (performance.now() - t0 < SECONDS * 1000) {
      await t.step();
      steps++;
    }
    const wall = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const run: NativeRun = {
      stepsPerSecond: steps / wall,
      cpuMsPerStep: (cpu.user + cpu.system) / 1000 / steps,
    };
    console.log(JSON.stringify(run));
  }
  process.exit(0);
}

const entries: BenchEntry[] = [];
const busy = `load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores`;
console.log(`[streams/cl] backend benchmarks: ${ROUNDS} paired rounds of ${SECONDS} s; ${busy}`);
await import('@tensorflow/tfjs-backend-cpu');
await selectBackend({ backend: 'wasm', env: {} });

// 1. The WASM training kernels against the cpu backend's kernels, on training-sized inputs.
const KERNELS: [string, string, Record<string, number[]>, object][] = [
  [
    'Conv2DBackpropFilter x[16,14,14,16] 3x3 ->32 stride 2',
    'Conv2DBackpropFilter',
    { x: [16, 14, 14, 16], dy: [16, 7, 7, 32] },
    { strides: 2, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 16, 32] },
  ],
  [
    'DepthwiseConv2dNativeBackpropFilter x[16,14,14,32] 3x3',
    'DepthwiseConv2dNativeBackpropFilter',
    { x: [16, 14, 14, 32], dy: [16, 14, 14, 32] },
    { strides: 1, dilations: 1, pad: 'same', filterShape: [3, 3, 32, 1] },
  ],
  [
    'DepthwiseConv2dNativeBackpropInput dy[16,14,14,32] 3x3',
    'DepthwiseConv2dNativeBackpropInput',
    { dy: [16, 14, 14, 32], filter: [3, 3, 32, 1] },
    { strides: 1, dilations: 1, pad: 'same', inputShape: [16, 14, 14, 32] },
  ],
  [
    'Conv3DBackpropFilterV2 x[8,8,16,16,4] 3x3x3 ->8 stride 2',
    'Conv3DBackpropFilterV2',
    { x: [8, 8, 16, 16, 4], dy: [8, 4, 8, 8, 8] },
    { strides: 2, pad: 'same', filterShape: [3, 3, 3, 4, 8] },
  ],
  [
    'Conv3DBackpropInputV2 dy[8,4,8,8,8] 3x3x3 stride 2',
    'Conv3DBackpropInputV2',
    { dy: [8, 4, 8, 8, 8], filter: [3, 3, 3, 4, 8] },
    { strides: 2, pad: 'same', inputShape: [8, 8, 16, 16, 4] },
  ],
];
for (const [label, kernel, inputs, attrs] of part('kernels') ? KERNELS : []) {
  const call = kernelCall(kernel, inputs, attrs);
  const m = await paired(
    () => rate('wasm', call),
    () => rate('cpu', call),
  );
  entries.push(
    benchEntry({
      name: `cl backend: wasm kernel ${label}`,
      unit: 'calls/s',
      reference: 'cpu backend',
      ...m,
    }),
  );
}

// 2 and 3. Training steps/s, each backend with its own copy of the model.
let native = false;
try {
  await selectBackend({ backend: 'tensorflow', env: {} });
  native = true;
} catch (e) {
  console.log(`[streams/cl] no native backend, native figures left out: ${(e as Error).message}`);
}
const steps = async (
  label: string,
  model: OpsModel,
  value: BackendName,
  reference: BackendName,
) => {
  const a = trainer(value, model);
  const b = trainer(reference, model);
  const m = await paired(
    () => rate(value, a.step),
    () => rate(reference, b.step),
  );
  a.dispose();
  b.dispose();
  entries.push(
    benchEntry({
      name: `cl backend: train ${label} on ${value}`,
      unit: 'steps/s',
      reference: `${reference} backend`,
      ...m,
    }),
  );
};
if (part('train')) await steps('small CNN b16 (2 conv)', cnn(16), 'wasm', 'cpu'); // cpu: seconds a step at b64
if (native && part('train')) {
  await steps('MLP 784-256-256-10 b128', MLP, 'tensorflow', 'wasm');
  await steps('small CNN b64 (2 conv)', cnn(64), 'tensorflow', 'wasm');
}
if (native && part('threads')) {
  // 4. Intra-op threads: one process per setting, measured in turn.
  const ours = String(defaultNativeThreads());
  const procs = new Map(
    [...new Set(['1', '2', ours, 'unset'])].map((t) => [
      t,
      nativeProcess(t === 'unset' ? undefined : t),
    ]),
  );
  const runs = new Map<string, NativeRun[]>([...procs.keys()].map((t) => [t, []]));
  for (let i = 0; i < ROUNDS; i++) {
    for (const [t, p] of procs) runs.get(t)!.push(await p.measure());
  }
  for (const p of procs.values()) p.close();
  const med = (t: string, k: keyof NativeRun) => median(runs.get(t)!.map((r) => r[k]));
  entries.push(
    benchEntry({
      name: `cl backend: native MLP b128 steps/s, default threads (${ours})`,
      unit: 'steps/s',
      value: med(ours, 'stepsPerSecond'),
      reference: "TensorFlow's own default",
      referenceValue: med('unset', 'stepsPerSecond'),
    }),
    benchEntry({
      name: `cl backend: native MLP b128 CPU time per step, default threads (${ours})`,
      unit: 'ms',
      value: med(ours, 'cpuMsPerStep'),
      reference: "TensorFlow's own default",
      referenceValue: med('unset', 'cpuMsPerStep'),
      lowerIsBetter: true,
    }),
    benchEntry({
      name: 'cl backend: native MLP b128 CPU time per step, 1 intra-op thread',
      unit: 'ms',
      value: med('1', 'cpuMsPerStep'),
      reference: '2 threads',
      referenceValue: med('2', 'cpuMsPerStep'),
      lowerIsBetter: true,
    }),
  );
}

// The package's bench-results.json may hold the learners' figures too: keep those, replace ours.
const file = join(process.cwd(), 'bench-results.json');
const others = existsSync(file)
  ? (JSON.parse(readFileSync(file, 'utf8')) as BenchEntry[]).filter(
      (e) => !e.name.startsWith('cl backend: '),
    )
  : [];
writeFileSync(file, `${JSON.stringify([...others, ...entries], null, 2)}\n`);
console.log(benchTable(entries));
console.log(`[streams/cl] measured with ${busy} at the start (other work shares these cores)`);
