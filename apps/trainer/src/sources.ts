// Turns the streams of a config into the locations a StreamingDataset reads: registered datasets
// are written once as MDS shards (per task split, train and held-out test) into the data dir;
// `url` streams of every format (MDS, WebDataset, JSONL/CSV, index tables) are streamed as they
// are, local or through the node cache, with nothing converted.
import { randomUUID } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fnv1a64, isStreamsError, rng, StreamsError, settings } from '@streams/core';
import { getDriver } from '@streams/downloader';
import {
  type DatasetFormat,
  isRemoteUrl,
  joinUrl,
  MdsWriter,
  RoutingByteSource,
} from '@streams/index';
import {
  type ClTask,
  classIncrementalSplit,
  loadDataset,
  permutedTasks,
  rotatedTasks,
  rotateImage,
  type TensorDataset,
  taskIncrementalSplit,
} from '@streams/multistream';
import type { RunConfig, StreamConfig } from './runConfig.js';

/** A dataset a stream reads: a local path or a remote URL, and its format (default: detected). */
export interface MdsLocation {
  url: string;
  split?: string;
  format?: DatasetFormat;
}

/** Where one stream's samples are, per experience (task) for registered datasets. */
export interface StreamSource {
  config: StreamConfig;
  /** Train parts: one per task (tasks mode), or a single one. */
  train: MdsLocation[];
  /** Test parts, aligned with `train`; undefined when the stream has no test data. */
  test: MdsLocation[] | undefined;
  /** Classes of each part (registered datasets). */
  classes?: number[][];
  /** Values per input, and classes, when known before reading (registered datasets). */
  inputSize?: number;
  numClasses?: number;
}

/** Samples per MDS shard file for materialized datasets: several shards per task, like real data. */
const SHARD_LIMIT = '2mb';

/** The data dir the trainer writes into. */
export function dataDirOf(config: RunConfig): string {
  return config.dataDir ?? join(settings().dataDir, 'trainer');
}

/** Resolves every stream of the config (writing registered datasets as needed). */
export async function resolveSources(
  config: RunConfig,
  options: { signal?: AbortSignal; log?: (line: string) => void } = {},
): Promise<StreamSource[]> {
  // Checked before any dataset is written: a bad config fails at once.
  for (const [i, s] of config.streams.entries()) {
    if (s.url !== undefined && config.experiences.kind === 'tasks') {
      throw new StreamsError(
        'STREAMS_INVALID_CONFIG',
        `[streams/trainer] streams[${i}] (${s.name}) is a url, but experiences.kind "tasks" splits registered datasets by class`,
        {
          stream: s.name,
          fix: 'use experiences.kind: windows for url streams, or a registered dataset',
        },
      );
    }
  }
  const out: StreamSource[] = [];
  for (const s of config.streams) {
    if (s.dataset !== undefined) {
      out.push(await materialize(s, config, options));
      continue;
    }
    // Streamed as they are: StreamingDataset reads every format (detected unless given).
    const format = s.format === 'auto' ? {} : { format: s.format };
    const train = { url: s.url!, ...(s.split ? { split: s.split } : {}), ...format };
    const test = s.eval ? [{ ...s.eval, ...format }] : undefined;
    out.push({ config: s, train: [train], test });
  }
  return out;
}

/** The class lists of the tasks the config asks for (tasks mode) over a dataset of `numClasses`. */
function taskSplit(config: RunConfig, ds: TensorDataset): ClTask[] {
  const e = config.experiences;
  if (e.kind !== 'tasks') return classIncrementalSplit(ds, { tasks: 1 });
  if (e.split === 'permuted' || e.split === 'rotated') {
    if (typeof e.tasks !== 'number' && e.split === 'permuted') {
      throw new StreamsError(
        'STREAMS_INVALID_CONFIG',
        '[streams/trainer] experiences.tasks must be a number with split permuted',
        {
          fix: 'give the number of permuted tasks, e.g. tasks: 10',
        },
      );
    }
    if (e.split === 'rotated') {
      if (!e.angles) {
        throw new StreamsError(
          'STREAMS_INVALID_CONFIG',
          '[streams/trainer] experiences.split rotated needs experiences.angles',
          {
            fix: 'give one angle (degrees) per task, e.g. angles: [0, 45, 90]',
          },
        );
      }
      return rotatedTasks(ds, { angles: e.angles });
    }
    return permutedTasks(ds, { tasks: e.tasks as number, seed: config.seed });
  }
  const split = e.mode === 'task-incremental' ? taskIncrementalSplit : classIncrementalSplit;
  return split(ds, { tasks: e.tasks, seed: e.classOrderSeed });
}

async function materialize(
  s: StreamConfig,
  config: RunConfig,
  options: { signal?: AbortSignal; log?: (line: string) => void },
): Promise<StreamSource> {
  const ds = await loadDataset(s.dataset!, s.datasetOptions);
  const tasks = taskSplit(config, ds);
  const size = ds.x.length / ds.numSamples;
  // Everything the bytes depend on names the directory, so a changed config never reads stale data.
  const key = JSON.stringify({
    v: 1,
    dataset: s.dataset,
    options: s.datasetOptions ?? {},
    rotate: s.rotate,
    holdout: config.eval.holdout,
    seed: config.seed,
    mode: config.experiences.mode,
    split: config.experiences.split,
    angles: config.experiences.angles,
    tasks: tasks.map((t) => t.classes),
  });
  const dir = joinUrl(
    dataDirOf(config),
    `${s.dataset}-${fnv1a64(key).toString(16).padStart(16, '0')}`,
  );
  const parts = tasks.map((_, t) => ({
    train: { url: joinUrl(dir, `task-${t}/train`) },
    test: { url: joinUrl(dir, `task-${t}/test`) },
  }));
  if (!(await exists(joinUrl(dir, DONE), options.signal))) {
    options.log?.(`writing ${s.dataset} (${s.name}) as MDS shards into ${dir}`);
    await writeParts(ds, tasks, s, config, dir, options.signal);
  }
  return {
    config: s,
    train: parts.map((p) => p.train),
    test: parts.map((p) => p.test),
    classes: tasks.map((t) => t.classes),
    inputSize: size,
    numClasses: ds.numClasses,
  };
}

/** Written last into a materialized dataset: its presence means every shard is there. */
const DONE = 'done.json';

async function exists(url: string, signal?: AbortSignal): Promise<boolean> {
  const source = new RoutingByteSource();
  try {
    await source.size(url, { signal });
    return true;
  } catch (e) {
    if (isStreamsError(e, 'STREAMS_NOT_FOUND')) return false;
    throw e;
  } finally {
    await source.close();
  }
}

/**
 * Writes every task's train and test samples. A local data dir gets them in a temporary directory
 * renamed into place, so a crash never leaves half a dataset and ranks writing at once end with
 * one complete copy; a remote one (s3://, gs://) gets each part uploaded by the MDS writer, and
 * done.json last.
 */
async function writeParts(
  ds: TensorDataset,
  tasks: ClTask[],
  s: StreamConfig,
  config: RunConfig,
  dir: string,
  signal?: AbortSignal,
): Promise<void> {
  const remote = isRemoteUrl(dir);
  const target = remote ? dir : `${dir}.tmp-${randomUUID()}`;
  try {
    const size = ds.x.length / ds.numSamples;
    const shape = ds.shape.join(',');
    // One held-out set for the whole dataset, so every stream of it splits the same samples.
    const order = rng(config.seed, 'trainer-holdout').permutation(ds.numSamples);
    const isTest = new Uint8Array(ds.numSamples); // [n]
    const nTest = Math.floor(ds.numSamples * config.eval.holdout);
    for (let k = 0; k < nTest; k++) isTest[order[k]!] = 1;
    const [h, w] = ds.shape as [number, number];
    const input = new Float32Array(size); // [...shape]
    const rotated = new Float32Array(size); // [...shape]
    for (const [t, task] of tasks.entries()) {
      for (const part of ['train', 'test'] as const) {
        const writer = new MdsWriter({
          out: joinUrl(target, `task-${t}/${part}`),
          columns: { x: `ndarray:float32:${shape}`, y: 'int32' },
          sizeLimit: SHARD_LIMIT,
          overwrite: remote,
          signal,
        });
        for (const i of task.indices) {
          if ((isTest[i] === 1) !== (part === 'test')) continue;
          task.input(i, input);
          const x =
            s.rotate !== 0 && ds.shape.length === 2
              ? rotateImage(input, h, w, s.rotate, rotated)
              : input;
          await writer.write({
            x: { dtype: 'float32', shape: ds.shape, data: x },
            y: task.label(i),
          });
        }
        await writer.finish();
      }
    }
    const done = new TextEncoder().encode(
      `${JSON.stringify({ samples: ds.numSamples, tasks: tasks.length })}\n`,
    );
    if (remote) {
      await getDriver(dir).put(joinUrl(dir, DONE), done, { signal });
      return;
    }
    await writeFile(join(target, DONE), done);
    await rename(target, dir).catch(async (e: NodeJS.ErrnoException) => {
      // Another process finished the same dataset first: its copy is identical.
      if (e.code === 'ENOTEMPTY' || e.code === 'EEXIST')
        await rm(target, { recursive: true, force: true });
      else throw e;
    });
  } catch (e) {
    if (!remote) await rm(target, { recursive: true, force: true });
    throw e;
  }
}
