import { DEFAULT_TF_VERSION, setupTf } from '@streams/cl';
import { StreamsError } from '@streams/core';
import type { Command } from './commands.js';

const flags = {
  gpu: {
    type: 'boolean',
    description:
      'build @tensorflow/tfjs-node-gpu against the CUDA wheel (tensorflow; needs the NVIDIA driver, CUDA 12, cuDNN 9)',
  },
  'tf-version': {
    type: 'string',
    description: 'TensorFlow release of the wheel',
    default: DEFAULT_TF_VERSION,
  },
  wheel: { type: 'string', description: 'build from this wheel file instead of asking pip' },
  python: { type: 'string', description: 'Python with pip', default: 'python3' },
  nodedir: { type: 'string', description: 'Node.js headers prefix (default: next to this node)' },
  force: { type: 'boolean', description: 'rebuild even when the same build is in place' },
  'skip-cuda-check': {
    type: 'boolean',
    description: 'with --gpu: build even where no CUDA driver is found',
  },
} satisfies Command['flags'];

/** `streams setup-tf`: builds the native TensorFlow backend from TensorFlow's Python wheel. */
export const setupTfCommand: Command = {
  name: 'setup-tf',
  usage: 'streams setup-tf [--gpu] [--tf-version 2.21.0] [--wheel file.whl] [--force]',
  flags,
  async run({ positionals, flags: f, io }) {
    if (positionals.length > 0) {
      throw new StreamsError(
        'STREAMS_INVALID_CONFIG',
        `[streams/trainer] setup-tf takes no arguments, got "${positionals.join(' ')}"`,
        { fix: 'pass a wheel file as --wheel <file>; see streams setup-tf --help' },
      );
    }
    const result = await setupTf({
      gpu: f.gpu === true,
      tensorflowVersion: f['tf-version'] as string,
      wheel: f.wheel as string | undefined,
      python: f.python as string,
      nodedir: f.nodedir as string | undefined,
      force: f.force === true,
      skipCudaCheck: f['skip-cuda-check'] === true,
      log: (line) => io.out.write(`setup-tf: ${line}\n`),
      signal: io.signal,
    });
    io.out.write(
      `setup-tf: ${result.package} runs TensorFlow ${result.tensorflowVersion}; selectBackend() now picks "tensorflow" (STREAMS_TF_BACKEND=wasm forces WASM)\n`,
    );
    return 0;
  },
};
