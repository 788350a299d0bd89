import type { FetchEngineOptions } from '@streams/downloader';

/** An in-memory labelled dataset: inputs as one flat Float32Array, labels as integers. */
export interface TensorDataset {
  name: string;
  /** Inputs, `numSamples x prod(shape)` values. */
  x: Float32Array; // [n, ...shape]
  /** Class label of each sample. */
  y: Int32Array; // [n]
  /** Shape of one input, e.g. [28, 28] for MNIST, [32, 32, 3] (HWC) for CIFAR. */
  shape: number[];
  numClasses: number;
  numSamples: number;
  /** Names of the classes of `y`, when the dataset has them. */
  classNames?: string[];
  /** Other label columns of the same samples (e.g. CIFAR-100's `fine` and `coarse`). */
  labels?: Record<string, Int32Array>; // each [n]
  /** Time step of each sample, for datasets that drift (toy8). */
  step?: Uint32Array; // [n]
}

/** Statistics of a dataset, known without loading it. */
export interface DatasetInfo {
  description: string;
  numSamples: number;
  shape: number[];
  numClasses: number;
  /** Where the data comes from (URL, package, path, generator). */
  source: string;
}

/** One accepted version of a remote file. */
export interface FileVersion {
  size: number;
  sha256: string;
}

/** A file a dataset's loader reads, with where to fetch it and how to check it. */
export interface RemoteFile extends FileVersion {
  /** File name under the dataset's directory. */
  name: string;
  /** URL of the file, or a path relative to the entry's `baseUrl`. */
  url: string;
  /** Other accepted versions (e.g. a distribution's recompressed copy of the same data). */
  alternatives?: FileVersion[];
}

/** Options every dataset accepts in {@link loadDataset} (on top of its own). */
export interface DatasetLoadOptions {
  /** Root of materialized datasets (default `STREAMS_DATA_DIR`); files go to `<dataDir>/<name>/`. */
  dataDir?: string;
  /** Where the entry's relative file URLs point (default: the entry's, or `STREAMS_DATASETS_MIRROR/<name>/`). */
  baseUrl?: string;
  /** Search the entry's system directories (e.g. Debian's package) before `dataDir` (default true). */
  systemDirs?: boolean;
  /** Download missing files (default true); false fails with the files to fetch. */
  download?: boolean;
  /** Fetch engine options of the downloads (retries, timeouts, limits; see @streams/downloader). */
  fetchOptions?: Omit<FetchEngineOptions, 'driverFor'>;
  /** Download progress: a stream (default stderr), or false for none. */
  progress?: NodeJS.WritableStream | false;
  signal?: AbortSignal;
}

/** What a loader receives: its options, and the local path of each of its files by name. */
export type LoaderOptions<O> = O & DatasetLoadOptions & { paths: Record<string, string> };

/** A named dataset: what it is, which files it needs, and how to load them. */
export interface DatasetSpec<O = Record<string, unknown>> {
  info: DatasetInfo | ((options?: O) => DatasetInfo);
  /** Files the loader reads; fetched into `<dataDir>/<name>/` when not found locally. */
  files?: readonly RemoteFile[] | ((options?: O) => readonly RemoteFile[]);
  /** Base of relative file URLs. */
  baseUrl?: string;
  /** Directories searched for the files before `<dataDir>/<name>/` (e.g. a system package's). */
  localDirs?: (options?: O) => string[];
  /** Credentials the source needs beyond per-host HTTP ones: `kaggle` (kaggle.json or KAGGLE_USERNAME/KAGGLE_KEY). */
  auth?: 'kaggle';
  /** Whether it loads on this machine without a download (default: its files are local, or it has none). */
  available?: (options?: O) => boolean;
  load(options: LoaderOptions<O>): Promise<TensorDataset>;
}
