import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { world } from '@streams/core';
import { stringify as toYaml } from 'yaml';
import type { Command, FlagSpec } from './commands.js';
import {
  type Assignment,
  applySets,
  loadConfig,
  readConfigFile,
  validateConfig,
} from './configLoad.js';
import { DEFAULT_JOB } from './defaultJob.js';
import { configureRemote } from './remoteFlags.js';
import { writeReport } from './report.js';
import { type RunConfig, runConfigJsonSchema } from './runConfig.js';
import { printSummary } from './runSummary.js';
import { createProgress } from './trainProgress.js';
import { runTraining } from './trainRun.js';

/** Config paths a flag may stand for (typed, so a flag cannot name a field that does not exist). */
type ConfigPath =
  | Exclude<keyof RunConfig, 'streams' | 'learners'>
  | `train.${keyof RunConfig['train']}`
  | `data.${keyof RunConfig['data']}`
  | `report.${keyof RunConfig['report']}`;

/** The flags of `streams train`; those with `config` set that config field (like `--set`). */
export const TRAIN_FLAGS = {
  config: {
    type: 'string',
    short: 'c',
    description: 'run config (YAML or JSON); default: the embedded split-MNIST job',
  },
  set: {
    type: 'string',
    multiple: true,
    description: 'set a config field: --set learners[0].optimizer.lr=0.01 (repeatable)',
  },
  'print-config': { type: 'boolean', description: 'print the effective config (YAML) and exit' },
  'print-schema': {
    type: 'boolean',
    description: 'print the JSON Schema of the config file and exit',
  },
  resume: {
    type: 'string',
    description: 'continue a run from its directory (latest checkpoint) or a checkpoint directory',
  },
  quiet: { type: 'boolean', short: 'q', description: 'no progress output' },
  name: { type: 'string', config: 'name', description: 'run name' },
  seed: {
    type: 'number',
    config: 'seed',
    description: 'seed of the data order, splits and learners',
  },
  backend: {
    type: 'string',
    config: 'backend',
    description:
      'TensorFlow.js backend: auto (STREAMS_TF_BACKEND, else the best built), tensorflow, wasm or cpu',
  },
  out: { type: 'string', config: 'out', description: 'run directory (default runs/<name>)' },
  'data-dir': {
    type: 'string',
    config: 'dataDir',
    description: 'where datasets are written as MDS shards',
  },
  epochs: { type: 'number', config: 'train.epochs', description: 'passes over each experience' },
  'batch-size': {
    type: 'number',
    config: 'data.batchSize',
    description: 'samples per training step',
  },
  'checkpoint-every': {
    type: 'number',
    config: 'train.checkpointEvery',
    description: 'steps between checkpoints',
  },
  endpoint: {
    type: 'string',
    config: 'data.endpoint',
    description: 'S3-compatible endpoint for s3:// streams',
  },
} satisfies Record<string, FlagSpec & { config?: ConfigPath }>;

/** The effective config: a file (or the default job), flag fields, then --set. */
export async function trainConfig(f: Record<string, unknown>): Promise<RunConfig> {
  const sets: Assignment[] = [];
  for (const [flag, spec] of Object.entries(TRAIN_FLAGS)) {
    if ('config' in spec && f[flag] !== undefined)
      sets.push({ path: spec.config.split('.'), value: f[flag], flag: `--${flag}` });
  }
  sets.push(...((f.set as string[] | undefined) ?? []));
  if (typeof f.config === 'string') return loadConfig({ file: f.config, sets });
  if (typeof f.resume === 'string') {
    // A resume without --config continues with the run's own effective config (a --set that
    // changes it makes the checkpoint refuse to load: the run would no longer be exact).
    const dir = runDirOf(f.resume);
    const w = world();
    const file = [join(dir, 'config.json'), join(dir, `rank-${w.rank}`, 'config.json')].find((p) =>
      existsSync(p),
    );
    if (file) {
      const saved = await readConfigFile(file);
      return validateConfig({ ...saved, value: applySets(saved.value, sets) });
    }
  }
  return loadConfig({ fallback: DEFAULT_JOB, sets });
}

/** The run directory of a --resume path (a checkpoint sits in <run>/checkpoints/ckpt-N). */
function runDirOf(resume: string): string {
  return existsSync(join(resume, 'trainer.json')) ? join(resume, '..', '..') : resume;
}

/** `streams train`. */
export async function runTrain(
  f: Record<string, unknown>,
  io: Parameters<Command['run']>[0]['io'],
): Promise<number> {
  if (f['print-schema']) {
    io.out.write(`${JSON.stringify(runConfigJsonSchema(), null, 2)}\n`);
    return 0;
  }
  const config = await trainConfig(f);
  if (f['print-config']) {
    io.out.write(toYaml(config));
    return 0;
  }
  if (config.data.endpoint) await configureRemote({ endpoint: config.data.endpoint });
  const { dir, resume } = runDir(config, f.resume as string | undefined);
  const progress = createProgress(io.err as NodeJS.WritableStream & { isTTY?: boolean }, {
    quiet: f.quiet === true,
  });
  const result = await runTraining({
    config,
    dir,
    resume,
    progress,
    signal: io.signal,
    stop: io.stop,
  });
  await printSummary(result.dir, io.out);
  if (config.report.html || config.report.png) {
    const report = await writeReport(result.dir, {
      html: config.report.html,
      png: config.report.png,
    });
    io.out.write(`report: ${report}\n`);
  }
  return 0;
}

/**
 * The run directory: the resumed one, the config's `out`, or runs/<name>. In a multi-process job
 * every rank trains its own learner and writes its own run under rank-<r>.
 */
function runDir(config: RunConfig, resume: string | undefined): { dir: string; resume?: string } {
  const w = world();
  if (resume && existsSync(join(resume, 'trainer.json')))
    return { dir: join(resume, '..', '..'), resume };
  const base = resume ?? config.out ?? join('runs', config.name);
  const dir = w.worldSize > 1 ? join(base, `rank-${w.rank}`) : base;
  return { dir, ...(resume ? { resume: dir } : {}) };
}

export const trainCommand: Command = {
  name: 'train',
  usage:
    'streams train [--config run.yaml] [--set a.b=c ...] [--print-config] [--resume <run-dir>]',
  flags: TRAIN_FLAGS,
  graceful: true,
  run: ({ flags, io }) => runTrain(flags, io),
};
