// Picks and starts the TensorFlow.js backend the learners run on. Backend packages load lazily,
// with literal specifiers: the native ones are optional peers that most users never install.
import { availableParallelism } from 'node:os';
import { StreamsError } from '@streams/core';
import * as tf from '@tensorflow/tfjs-core';
import {
  loadNativePackage,
  NATIVE_PACKAGES,
  type NativePackage,
  nativePackageDir,
  packageVersion,
} from './backendPackages.js';
import {
  registerTrainingGradients,
  registerWasmTrainingKernels,
} from './kernels/registerKernels.js';

/** The backends {@link selectBackend} can start, best first. */
export const BACKEND_NAMES = ['tensorflow', 'wasm', 'cpu'] as const;

/** A backend name: `tensorflow` (native, from tfjs-node-gpu or tfjs-node), `wasm` or `cpu`. */
export type BackendName = (typeof BACKEND_NAMES)[number];

/** Options of {@link selectBackend}. */
export interface SelectBackendOptions {
  /**
   * The backend to start; `auto` takes the best one installed. Default: the `STREAMS_TF_BACKEND`
   * environment variable, else `auto`. A forced backend that cannot start is an error.
   */
  backend?: BackendName | 'auto';
  /**
   * Intra-op threads of the native backend (`TF_NUM_INTRAOP_THREADS`, read once, when TensorFlow
   * starts). Default: `TF_NUM_INTRAOP_THREADS` when set, else {@link defaultNativeThreads}.
   */
  threads?: number;
  /** Where `STREAMS_TF_BACKEND` and `TF_NUM_INTRAOP_THREADS` are read (default `process.env`). */
  env?: Record<string, string | undefined>;
}

/** What runs the tensors: reported by {@link selectBackend} and {@link backendInfo}. */
export interface BackendInfo {
  name: BackendName;
  /** The npm package that provides it, e.g. `@tensorflow/tfjs-node`. */
  package: string;
  /** That package's version. */
  version: string;
  /** The TensorFlow C library under the native backend, e.g. `2.21.0`. */
  tensorflowVersion?: string;
  device: 'CPU' | 'GPU';
  /** Threads one op may use (intra-op threads of TensorFlow; 1 for wasm and cpu). */
  threads: number;
  /** WebAssembly SIMD in use (wasm only). */
  simd: boolean;
  /** Better backends that `auto` passed over, and why. */
  skipped: string[];
}

let selected: BackendInfo | undefined;

/**
 * Starts the best TensorFlow.js backend (native `tensorflow` from `@tensorflow/tfjs-node-gpu` or
 * `@tensorflow/tfjs-node` when installed and built, else `wasm` with SIMD, else `cpu`), or the one
 * forced by `options.backend` / `STREAMS_TF_BACKEND`, and registers the kernels and gradients
 * training needs on it. Returns what it started.
 */
export async function selectBackend(options: SelectBackendOptions = {}): Promise<BackendInfo> {
  const env = options.env ?? process.env;
  const fromEnv = options.backend === undefined && env.STREAMS_TF_BACKEND !== undefined;
  const wanted = options.backend ?? (env.STREAMS_TF_BACKEND || 'auto');
  if (wanted !== 'auto' && !(BACKEND_NAMES as readonly string[]).includes(wanted)) {
    throw new StreamsError(
      'STREAMS_INVALID_CONFIG',
      `[streams/cl] ${fromEnv ? 'STREAMS_TF_BACKEND' : 'backend'}="${wanted}" is not a TensorFlow.js backend`,
      { fix: `use one of auto, ${BACKEND_NAMES.join(', ')}` },
    );
  }
  if (
    options.threads !== undefined &&
    !(Number.isInteger(options.threads) && options.threads > 0)
  ) {
    throw new StreamsError(
      'STREAMS_INVALID_CONFIG',
      `[streams/cl] threads=${options.threads} is not a positive integer`,
      { fix: 'give threads a whole number of at least 1, or leave it out for the default' },
    );
  }
  await loadGradients();
  const skipped: string[] = [];
  for (const name of wanted === 'auto' ? BACKEND_NAMES : [wanted as BackendName]) {
    try {
      const info = await STARTERS[name](options, env);
      selected = { ...info, skipped };
      return selected;
    } catch (cause) {
      if (wanted !== 'auto') throw unavailable(name, cause, fromEnv);
      skipped.push(`${name}: ${reason(cause)}`);
    }
  }
  throw new StreamsError('STREAMS_BACKEND_UNAVAILABLE', `[streams/cl] no backend could start`, {
    cause: skipped,
    fix: `reinstall @streams/cl's dependencies (${skipped.join('; ')})`,
  });
}

/** The backend {@link selectBackend} started; an error if none was, or tfjs has switched since. */
export function backendInfo(): BackendInfo {
  if (!selected || tf.getBackend() !== selected.name) {
    throw new StreamsError(
      'STREAMS_INVALID_ARGUMENT',
      selected
        ? `[streams/cl] the active TensorFlow.js backend is "${tf.getBackend()}", not the "${selected.name}" selectBackend() started`
        : '[streams/cl] no backend was selected yet',
      { fix: 'call await selectBackend() before backendInfo()' },
    );
  }
  return selected;
}

/**
 * Intra-op threads the native backend gets unless told otherwise: 1 on machines with 2 cores or
 * fewer, else one per core (TensorFlow's own default). JavaScript dispatches every op from the
 * main thread; on 2 cores one TensorFlow thread trains the 784-256-256-10 MLP with the least CPU
 * time per step, and on an idle machine the fastest (figures in the packages/cl README).
 */
export function defaultNativeThreads(cores = availableParallelism()): number {
  return cores <= 2 ? 1 : cores;
}

type Starter = (
  options: SelectBackendOptions,
  env: Record<string, string | undefined>,
) => Promise<Omit<BackendInfo, 'skipped'>>;

/** Intra-op threads TensorFlow started with (it reads them once per process). */
let nativeThreads: number | undefined;

function setNativeThreads(
  options: SelectBackendOptions,
  env: Record<string, string | undefined>,
): number {
  const threads = options.threads ?? (Number(env.TF_NUM_INTRAOP_THREADS) || defaultNativeThreads());
  process.env.TF_NUM_INTRAOP_THREADS = String(threads);
  return threads;
}

interface NativeBackend {
  binding: { TF_Version: string };
  isUsingGpuDevice: boolean;
}

const STARTERS: Record<BackendName, Starter> = {
  async tensorflow(options, env) {
    const missing: NativePackage[] = [];
    let failed: NativeLoadError | undefined;
    for (const pkg of NATIVE_PACKAGES) {
      const dir = nativePackageDir(pkg);
      if (!dir) {
        missing.push(pkg);
        continue;
      }
      // TensorFlow reads its thread count once, when the first native package loads.
      nativeThreads ??= setNativeThreads(options, env);
      try {
        loadNativePackage(pkg);
      } catch (cause) {
        failed ??= new NativeLoadError(pkg, cause); // e.g. -gpu not built: try tfjs-node next
        continue;
      }
      await start('tensorflow');
      const backend = tf.backend() as unknown as NativeBackend;
      return {
        name: 'tensorflow',
        package: pkg,
        version: packageVersion(dir),
        tensorflowVersion: backend.binding.TF_Version,
        device: backend.isUsingGpuDevice ? 'GPU' : 'CPU',
        threads: nativeThreads,
        simd: false,
      };
    }
    throw failed ?? new NativeMissingError(missing);
  },
  async wasm() {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    registerWasmTrainingKernels();
    await start('wasm');
    return {
      name: 'wasm',
      package: '@tensorflow/tfjs-backend-wasm',
      version: wasm.version_wasm,
      device: 'CPU',
      threads: wasm.getThreadsCount(),
      simd: Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')),
    };
  },
  async cpu() {
    const cpu = await import('@tensorflow/tfjs-backend-cpu');
    await start('cpu');
    return {
      name: 'cpu',
      package: '@tensorflow/tfjs-backend-cpu',
      version: cpu.version_cpu,
      device: 'CPU',
      threads: 1,
      simd: false,
    };
  },
};

async function start(name: BackendName): Promise<void> {
  // setBackend logs and returns false when the backend's initialisation throws.
  if (!(await tf.setBackend(name)))
    throw new Error(`tf.setBackend('${name}') failed to initialise it`);
  await tf.ready();
}

/**
 * tfjs-core registers no gradients in Node (they ship only as ESM files plain Node cannot load);
 * the tfjs union's Node bundle registers all of them into the one shared registry, so every
 * backend trains. tfjs-core 4.22 has no gradient for Conv3DBackpropInputV2: ours is added.
 */
async function loadGradients(): Promise<void> {
  if (!tf.getGradient('Conv2D')) await import('@tensorflow/tfjs');
  registerTrainingGradients();
}

class NativeMissingError extends Error {
  constructor(readonly missing: string[]) {
    super(`neither ${missing.join(' nor ')} is installed`);
  }
}

class NativeLoadError extends Error {
  constructor(
    readonly pkg: NativePackage,
    cause: unknown,
  ) {
    const text = cause instanceof Error ? cause.message : String(cause);
    const notBuilt = /tfjs_binding\.node\) can not be found/.test(text);
    super(
      notBuilt
        ? `${pkg} is installed but its native binding is not built`
        : `${pkg} is installed but failed to load: ${text.split('\n')[0]}`,
      { cause },
    );
  }
}

function reason(cause: unknown): string {
  return cause instanceof Error ? cause.message.split('\n')[0]! : String(cause);
}

/** How to run the native build: the CLI in this repository, the function elsewhere. */
function setupHint(gpu: boolean): string {
  return `"pnpm streams setup-tf${gpu ? ' --gpu' : ''}" in the streams repository, or await setupTf(${gpu ? '{ gpu: true }' : ''}) from @streams/cl`;
}

function unavailable(name: BackendName, cause: unknown, fromEnv: boolean): StreamsError {
  const forced = fromEnv ? ' (forced by STREAMS_TF_BACKEND)' : '';
  const unset = fromEnv ? '; or unset STREAMS_TF_BACKEND to take the best backend installed' : '';
  let fix: string;
  if (cause instanceof NativeMissingError) {
    fix = `install @tensorflow/tfjs-node@4.22.0 without its install script (npm install --ignore-scripts @tensorflow/tfjs-node@4.22.0), then build it from TensorFlow's wheel: ${setupHint(false)}${unset}`;
  } else if (cause instanceof NativeLoadError) {
    fix = `build it from TensorFlow's Python wheel (no download from Google's storage): ${setupHint(cause.pkg.endsWith('-gpu'))}${unset}`;
  } else {
    fix = `reinstall ${name === 'wasm' ? '@tensorflow/tfjs-backend-wasm (its .wasm files must sit in its dist/ folder)' : '@tensorflow/tfjs-backend-cpu'}${unset}`;
  }
  return new StreamsError(
    'STREAMS_BACKEND_UNAVAILABLE',
    `[streams/cl] the "${name}" backend${forced} is not available: ${reason(cause)}`,
    { cause, fix },
  );
}
