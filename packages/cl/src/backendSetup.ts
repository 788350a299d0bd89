// Builds the native binding of @tensorflow/tfjs-node(-gpu) from TensorFlow's own Python wheel.
// The package's install script downloads libtensorflow 2.9.1 from Google's storage, which is
// unreachable offline and answers 403 upstream (tensorflow/tfjs#8742); the wheel carries the same
// C API in libtensorflow_cc.so.2, and node-pre-gyp builds the binding against it in seconds.
import { execFile, spawn } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { StreamsError } from '@streams/core';
import { type NativePackage, nativePackageDir, packageVersion } from './backendPackages.js';

const run = promisify(execFile);

/** The TensorFlow release whose wheel `setupTf` builds against by default. */
export const DEFAULT_TF_VERSION = '2.21.0';

/** Options of {@link setupTf}. */
export interface SetupTfOptions {
  /** Build `@tensorflow/tfjs-node-gpu` against the CUDA wheel (`tensorflow`) instead of `@tensorflow/tfjs-node` against `tensorflow-cpu`. */
  gpu?: boolean;
  /** TensorFlow release of the wheel (default {@link DEFAULT_TF_VERSION}). */
  tensorflowVersion?: string;
  /** A wheel file to build from instead of asking pip for one. */
  wheel?: string;
  /** Python with pip, for the download and the extraction (default `python3`). */
  python?: string;
  /** Node.js headers for node-gyp (default: the install prefix of this `node`, when it has them). */
  nodedir?: string;
  /** Rebuild even when a build of the same TensorFlow release is in place. */
  force?: boolean;
  /** With `gpu`: build even where no CUDA driver is found (the binding then runs on the CPU). */
  skipCudaCheck?: boolean;
  /** Receives one line per step. */
  log?: (line: string) => void;
  signal?: AbortSignal;
}

/** What {@link setupTf} did. */
export interface SetupTfResult {
  package: NativePackage;
  packageDir: string;
  /** False when a build was already in place (nothing was done). */
  built: boolean;
  /** The TensorFlow C library the binding runs, as it reports itself. */
  tensorflowVersion: string;
  /** The wheel it was built from (file name). */
  wheel: string;
  /** Losses of the smoke test's training steps on `tensorflow`, and on `cpu` from the same start. */
  smoke?: { losses: number[]; cpuLosses: number[]; device: 'CPU' | 'GPU' };
}

/** The record a successful build leaves in the package's `deps/` (also read by `.ci/run`). */
export const SETUP_STAMP = 'streams-setup.json';

interface Stamp {
  package: NativePackage;
  packageVersion: string;
  tensorflowVersion: string;
  wheel: string;
  builtAt: string;
}

/**
 * `streams setup-tf`: builds the native `tensorflow` backend from TensorFlow's Python wheel (pip
 * gets `tensorflow-cpu`, or `tensorflow` with `gpu`), then trains a few steps on it as a smoke
 * test. Quick and harmless when the same build is already in place.
 */
export async function setupTf(options: SetupTfOptions = {}): Promise<SetupTfResult> {
  const log = options.log ?? (() => {});
  const pkg: NativePackage = options.gpu ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
  const version = options.tensorflowVersion ?? DEFAULT_TF_VERSION;
  const wheelName = `${options.gpu ? 'tensorflow' : 'tensorflow-cpu'}==${version}`;
  if (process.platform !== 'linux') {
    throw new StreamsError(
      'STREAMS_NOT_IMPLEMENTED',
      `[streams/cl] setup-tf builds on Linux only (this is ${process.platform})`,
      { fix: 'use the WASM backend here, or build on Linux' },
    );
  }
  if (!/^\d+\.\d+\.\d+([a-z]+\d*)?$/.test(version)) {
    throw new StreamsError(
      'STREAMS_INVALID_CONFIG',
      `[streams/cl] "${version}" is not a TensorFlow release`,
      { fix: `give a release such as ${DEFAULT_TF_VERSION}` },
    );
  }
  if (options.wheel !== undefined && !existsSync(options.wheel)) {
    throw new StreamsError('STREAMS_NOT_FOUND', `[streams/cl] no wheel at ${options.wheel}`, {
      fix: `give --wheel the path of a ${wheelName} wheel, or leave it out to let pip get one`,
    });
  }
  if (options.gpu && !options.skipCudaCheck && !(await findCudaDriver(options.signal))) {
    throw new StreamsError(
      'STREAMS_BACKEND_UNAVAILABLE',
      '[streams/cl] setup-tf --gpu found no CUDA driver (libcuda.so.1) on this machine',
      {
        fix: 'install the NVIDIA driver for CUDA 12, then CUDA 12 and cuDNN 9 (pip install "tensorflow[and-cuda]==2.21.0" brings both); or add --skip-cuda-check to build anyway (the binding then runs on the CPU)',
      },
    );
  }
  const dir = nativePackageDir(pkg);
  if (!dir) {
    throw new StreamsError('STREAMS_BACKEND_UNAVAILABLE', `[streams/cl] ${pkg} is not installed`, {
      fix: `install it without its download script, then run this again: npm install --ignore-scripts ${pkg}@4.22.0 (pnpm: pnpm add ${pkg}@4.22.0 with "${pkg}": false under allowBuilds in pnpm-workspace.yaml)`,
    });
  }
  const stampPath = join(dir, 'deps', SETUP_STAMP);
  const binding = bindingPath(dir);
  const stamp = readStamp(stampPath);
  if (
    !options.force &&
    stamp?.tensorflowVersion === version &&
    stamp.packageVersion === packageVersion(dir) &&
    existsSync(binding)
  ) {
    log(
      `${pkg} is already built against TensorFlow ${version} (${stamp.wheel}, ${stamp.builtAt}); --force rebuilds it`,
    );
    return {
      package: pkg,
      packageDir: dir,
      built: false,
      tensorflowVersion: version,
      wheel: stamp.wheel,
    };
  }
  const nodedir = nodeHeaders(options.nodedir);
  const python = options.python ?? 'python3';
  const started = Date.now();
  const scratch = await mkdtemp(join(tmpdir(), 'streams-setup-tf-'));
  try {
    const wheel = options.wheel ?? (await pipDownload(python, wheelName, scratch, log, options));
    await rm(stampPath, { force: true }); // from here on deps/ changes: no stamp until it works
    log(`extracting the TensorFlow C library and headers from ${basename(wheel)} into ${dir}/deps`);
    const extracted = await execOrFail(
      python,
      [EXTRACTOR, wheel, join(dir, 'deps'), join(dir, 'binding')],
      `extracting ${basename(wheel)}`,
      options.signal,
    );
    log(`  ${extracted.trim()}`);
    log('building the binding with node-pre-gyp (about 20 s of CPU time)');
    await buildBinding(dir, nodedir, options.signal);
    log('smoke test: training steps on the tensorflow backend and on cpu from the same start');
    const smoke = await smokeTest(dir, options.signal);
    const record: Stamp = {
      package: pkg,
      packageVersion: packageVersion(dir),
      tensorflowVersion: smoke.tensorflowVersion,
      wheel: basename(wheel),
      builtAt: new Date().toISOString(),
    };
    await writeFile(stampPath, `${JSON.stringify(record, null, 2)}\n`);
    log(
      `built ${pkg} ${record.packageVersion} against TensorFlow ${smoke.tensorflowVersion} (${record.wheel}) in ${Math.round((Date.now() - started) / 1000)} s; ` +
        `smoke test on ${smoke.device}: loss ${fmt(smoke.losses[0]!)} -> ${fmt(smoke.losses.at(-1)!)}, cpu ${fmt(smoke.cpuLosses.at(-1)!)}`,
    );
    return {
      package: pkg,
      packageDir: dir,
      built: true,
      tensorflowVersion: smoke.tensorflowVersion,
      wheel: record.wheel,
      smoke: { losses: smoke.losses, cpuLosses: smoke.cpuLosses, device: smoke.device },
    };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** The Python helper that copies the library and headers out of the wheel (shipped in scripts/). */
const EXTRACTOR = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  'scripts',
  'extractTfWheel.py',
);

function readStamp(path: string): Stamp | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Stamp;
  } catch {
    return undefined;
  }
}

/** Where node-pre-gyp puts (and tfjs-node looks for) the binding. */
function bindingPath(dir: string): string {
  const require = createRequire(join(dir, 'package.json'));
  const preGyp = require('@mapbox/node-pre-gyp') as { find(packageJson: string): string };
  return preGyp.find(join(dir, 'package.json'));
}

/** Where the CUDA driver library is, if this machine has one. */
export async function findCudaDriver(signal?: AbortSignal): Promise<string | undefined> {
  const dirs = [
    '/usr/lib/x86_64-linux-gnu',
    '/usr/lib64',
    '/usr/lib/aarch64-linux-gnu',
    '/usr/lib/wsl/lib',
  ];
  const found = dirs.map((d) => join(d, 'libcuda.so.1')).find((p) => existsSync(p));
  if (found) return found;
  const cache = await run('/sbin/ldconfig', ['-p'], { signal }).catch(() => ({ stdout: '' }));
  return /\S*libcuda\.so\.1\b.*=> (\S+)/.exec(cache.stdout)?.[1];
}

async function pipDownload(
  python: string,
  spec: string,
  into: string,
  log: (line: string) => void,
  options: SetupTfOptions,
): Promise<string> {
  log(`getting the ${spec} wheel with pip (${python} -m pip download)`);
  await execOrFail(
    python,
    ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '--dest', into, spec],
    `pip could not get ${spec}`,
    options.signal,
    `check that pip reaches PyPI or your index and that ${spec} exists for this Python and platform (${python} -m pip download --no-deps ${spec}); or download the wheel elsewhere and pass --wheel <file>`,
  );
  const wheel = (await readdir(into)).find((f) => f.endsWith('.whl'));
  if (!wheel) {
    throw new StreamsError('STREAMS_INTERNAL', `[streams/cl] pip downloaded no wheel for ${spec}`);
  }
  return join(into, wheel);
}

/** Runs a command; on failure a StreamsError with the last lines it printed. */
async function execOrFail(
  file: string,
  args: string[],
  what: string,
  signal: AbortSignal | undefined,
  fix = 'see the output above',
): Promise<string> {
  try {
    return (await run(file, args, { signal, maxBuffer: 16 << 20 })).stdout;
  } catch (cause) {
    if ((cause as { name?: string }).name === 'AbortError') throw cause;
    const e = cause as { code?: string | number; stderr?: string; stdout?: string };
    const missing = e.code === 'ENOENT';
    const lines = `${e.stderr ?? ''}\n${e.stdout ?? ''}`
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
    const errors = lines.filter((l) => /^error\b|error:/i.test(l)); // pip: "ERROR: ...", Python tracebacks
    const tail = (errors.length > 0 ? errors : lines).slice(-2).join(' | ');
    throw new StreamsError(
      'STREAMS_BACKEND_UNAVAILABLE',
      `[streams/cl] ${what}: ${missing ? `${file} is not installed` : tail || `exit code ${e.code}`}`,
      {
        cause,
        fix: missing ? `install ${file} (Python 3 with pip), or pass --python <path>` : fix,
      },
    );
  }
}

/** Node.js headers for node-gyp: the ones installed with this `node`, else an error. */
function nodeHeaders(given: string | undefined): string {
  const dir = given ?? dirname(dirname(process.execPath));
  if (existsSync(join(dir, 'include', 'node', 'node_api.h'))) return dir;
  throw new StreamsError(
    'STREAMS_BACKEND_UNAVAILABLE',
    `[streams/cl] no Node.js headers under ${dir}/include/node (node-gyp would download them, which needs the internet)`,
    {
      fix: 'install the headers of this Node.js (Debian: apt-get install libnode-dev; nvm and the official tarballs ship them) or pass --nodedir <prefix>',
    },
  );
}

async function buildBinding(
  dir: string,
  nodedir: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  const preGyp = createRequire(join(dir, 'package.json')).resolve(
    '@mapbox/node-pre-gyp/bin/node-pre-gyp',
  );
  const logFile = join(tmpdir(), `streams-setup-tf-build-${process.pid}.log`);
  const out = createWriteStream(logFile);
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [preGyp, 'install', '--build-from-source', `--nodedir=${nodedir}`],
      { cwd: dir, signal, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout.pipe(out, { end: false });
    child.stderr.pipe(out, { end: false });
    child.on('error', reject);
    child.on('close', (c) => resolve(c ?? 1));
  });
  await new Promise((r) => out.end(r));
  if (code !== 0) {
    const tail = readFileSync(logFile, 'utf8').trim().split('\n').slice(-8).join('\n  ');
    throw new StreamsError(
      'STREAMS_BACKEND_UNAVAILABLE',
      `[streams/cl] building the tfjs-node binding failed (full log: ${logFile}):\n  ${tail}`,
      { fix: 'install a C++ toolchain (g++, make) and python3, then run setup-tf again' },
    );
  }
  await rm(logFile, { force: true });
}

interface Smoke {
  tensorflowVersion: string;
  device: 'CPU' | 'GPU';
  losses: number[];
  cpuLosses: number[];
}

/**
 * Trains a small MLP for a few steps on the fresh binding and on `cpu` from the same weights, in
 * a child process (a broken binding may crash it); the losses must fall and agree.
 */
async function smokeTest(dir: string, signal: AbortSignal | undefined): Promise<Smoke> {
  const stdout = await execOrFail(
    process.execPath,
    ['-e', SMOKE_SCRIPT, dir],
    'the smoke test of the new binding',
    signal,
    'run it again with --force; if it fails the same way, report the output above',
  );
  const smoke = JSON.parse(stdout.trim().split('\n').at(-1)!) as Smoke;
  const agree = smoke.losses.every(
    (l, i) => Math.abs(l - smoke.cpuLosses[i]!) <= 1e-3 * Math.max(1, l),
  );
  if (!(smoke.losses.at(-1)! < smoke.losses[0]!) || !agree) {
    throw new StreamsError(
      'STREAMS_BACKEND_UNAVAILABLE',
      `[streams/cl] the new binding trains wrong: losses ${smoke.losses.map(fmt).join(', ')} on tensorflow, ${smoke.cpuLosses.map(fmt).join(', ')} on cpu`,
      { fix: 'rebuild with --force against another TensorFlow release (--tf-version)' },
    );
  }
  return smoke;
}

// CommonJS run with `node -e SCRIPT <tfjs-node dir>`: 8 SGD steps of a 784-64-10 MLP.
const SMOKE_SCRIPT = `
const tf = require(process.argv[1]);
const train = (backend) => {
  tf.setBackend(backend);
  return tf.tidy(() => {
    const x = tf.randomUniform([64, 784], 0, 1, 'float32', 1);
    const y = tf.oneHot(tf.randomUniform([64], 0, 10, 'int32', 2), 10);
    const w1 = tf.variable(tf.randomNormal([784, 64], 0, 0.05, 'float32', 3));
    const w2 = tf.variable(tf.randomNormal([64, 10], 0, 0.1, 'float32', 4));
    const opt = tf.train.sgd(0.1);
    const losses = [];
    for (let i = 0; i < 8; i++) {
      const loss = opt.minimize(() => tf.losses.softmaxCrossEntropy(y, tf.relu(x.matMul(w1)).matMul(w2)), true);
      losses.push(loss.dataSync()[0]);
    }
    return losses;
  });
};
const losses = train('tensorflow');
const backend = tf.backend();
const out = { tensorflowVersion: backend.binding.TF_Version, device: backend.isUsingGpuDevice ? 'GPU' : 'CPU', losses };
out.cpuLosses = train('cpu');
console.log(JSON.stringify(out));
`;

function fmt(x: number): string {
  return x.toFixed(4);
}
