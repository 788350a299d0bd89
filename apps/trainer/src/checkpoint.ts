import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StreamsError } from '@streams/core';
import type { DataPosition } from './experiences.js';

/** The trainer's part of a checkpoint: where the run is and what it has done. */
export interface TrainerState {
  version: typeof VERSION;
  /** Sequence number of the checkpoint (names its directory). */
  seq: number;
  reason: 'steps' | 'experience' | 'interrupted';
  /** Hash of the effective config: a resume with another config is refused. */
  configHash: string;
  /** The TensorFlow.js backend that wrote it (continuation is bit for bit on the same backend). */
  backend: string;
  learner: number;
  /** Experience in progress (or next, after an experience-end checkpoint). */
  experience: number;
  /** True when the experience has started (training continues it); false at its start. */
  started: boolean;
  /** Where the experience's data stands (null at an experience's start). */
  data: DataPosition | null;
  step: number;
  /** Steps of the experience in progress done so far. */
  stepInExperience: number;
  samples: number;
  /** Bytes of metrics.jsonl that belong to the run up to this checkpoint. */
  metricsBytes: number;
  /** The open step window of the metrics log (sums since its last line). */
  window: StepWindow;
  trainSeconds: number;
  checkpointSeconds: number;
}

/** Sums over the steps since the last metrics line (per-stream samples and targets included). */
export interface StepWindow {
  steps: number;
  /** Steps that reported a loss (GDumb and joint train only at the experience end) and their sum. */
  lossSteps: number;
  loss: number;
  /** Steps whose batch accuracy was measured (the first of each window) and their sum. */
  accuracySteps: number;
  accuracy: number;
  samples: number;
  streams: number[];
  targets: number[];
}

const PREFIX = 'ckpt-';
/** Format of trainer.json; a checkpoint of another version is refused. */
const VERSION = 2;

/**
 * Writes a checkpoint atomically: everything goes into a temporary directory that is renamed to
 * `ckpt-<seq>` only when complete, so a crash leaves either the whole checkpoint or none.
 */
export async function writeCheckpoint(
  dir: string,
  state: TrainerState,
  saveLearner: (dir: string) => Promise<void>,
  keep: number,
): Promise<string> {
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.tmp-${randomUUID()}`);
  const final = join(dir, `${PREFIX}${String(state.seq).padStart(6, '0')}`);
  try {
    await mkdir(tmp);
    await saveLearner(join(tmp, 'learner'));
    await writeFile(join(tmp, 'trainer.json'), `${JSON.stringify(state, null, 2)}\n`);
    await rm(final, { recursive: true, force: true });
    await rename(tmp, final);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  const all = await listCheckpoints(dir);
  for (const old of all.slice(0, Math.max(0, all.length - keep)))
    await rm(old, { recursive: true, force: true });
  return final;
}

/** Complete checkpoints in `dir`, oldest first. */
export async function listCheckpoints(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  return (await readdir(dir))
    .filter((n) => n.startsWith(PREFIX))
    .sort()
    .map((n) => join(dir, n));
}

/** The checkpoint a `--resume` path names: a checkpoint directory, or a run directory (its latest). */
export async function findCheckpoint(path: string): Promise<string> {
  if (existsSync(join(path, 'trainer.json'))) return path;
  const all = await listCheckpoints(join(path, 'checkpoints'));
  const latest = all[all.length - 1];
  if (!latest) {
    throw new StreamsError('STREAMS_STATE_INVALID', `[streams/trainer] no checkpoint in ${path}`, {
      fix: 'give --resume a run directory with checkpoints/ or one checkpoint directory',
    });
  }
  return latest;
}

/** Reads the trainer state of a checkpoint. */
export async function readCheckpoint(dir: string): Promise<TrainerState> {
  try {
    const s = JSON.parse(await readFile(join(dir, 'trainer.json'), 'utf8')) as TrainerState;
    if (s.version !== VERSION) throw new Error(`version ${String(s.version)}, not ${VERSION}`);
    return s;
  } catch (cause) {
    throw new StreamsError(
      'STREAMS_STATE_INVALID',
      `[streams/trainer] ${dir} is not a readable checkpoint`,
      {
        cause,
        fix: 'resume from a checkpoint written by this version of streams train',
      },
    );
  }
}
