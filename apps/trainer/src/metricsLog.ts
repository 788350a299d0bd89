import { open, readFile, truncate } from 'node:fs/promises';
import type { BackendInfo } from '@streams/cl';
import { StreamsError } from '@streams/core';

/** One line of `metrics.jsonl`. Every line has a `type`; the fields depend on it. */
export type MetricsLine =
  | {
      type: 'run';
      time: string;
      name: string;
      config: unknown;
      /** The TensorFlow.js backend the learners ran on. */
      backend: BackendInfo;
      world: unknown;
      streams: string[];
      evals: string[];
      experiences: string[];
      /** Names of the STREAMS signals in step lines, when a STREAMS waveform drives the data. */
      signals?: string[];
    }
  | {
      type: 'step';
      learner: string;
      experience: number;
      epoch: number;
      step: number;
      samples: number;
      /** Mean training loss of the window (null when no step trained: GDumb, joint). */
      loss: number | null;
      /** Accuracy on the window's first batch before its update (null for autoencoders). */
      accuracy: number | null;
      samplesPerSecond: number;
      waitMs: number;
      cacheHitRate: number;
      cacheHits: number;
      cacheMisses: number;
      /** Per stream: target weight and actual share of this window's samples. */
      shares: Array<{ stream: string; target: number; actual: number }>;
      signals?: number[];
    }
  | {
      type: 'eval';
      learner: string;
      experience: number;
      set: number;
      name: string;
      /** Null for autoencoders, whose result is the loss. */
      accuracy: number | null;
      loss: number;
      count: number;
    }
  | {
      type: 'learner';
      learner: string;
      description: string;
      weightsHash: string;
      /** Training time: steps and end-of-experience work, without evaluations and checkpoint writes. */
      trainSeconds: number;
      checkpointSeconds: number;
      samples: number;
      /** Each strategy memory at the end: samples held, capacity, bytes. */
      memory: Array<{ policy: string; size: number; capacity: number; bytes: number }>;
    }
  | {
      type: 'checkpoint';
      learner: string;
      experience: number;
      step: number;
      path: string;
      reason: string;
    }
  | { type: 'end'; time: string };

/** Appends lines to `metrics.jsonl`, knowing its length (a checkpoint records it, a resume cuts back to it). */
export class MetricsLog implements AsyncDisposable {
  #bytes: number;
  readonly #handle: Awaited<ReturnType<typeof open>>;

  private constructor(handle: Awaited<ReturnType<typeof open>>, bytes: number) {
    this.#handle = handle;
    this.#bytes = bytes;
  }

  /** Opens the log for appending; with `truncateTo`, drops what was written after that byte (a resumed run). */
  static async open(path: string, truncateTo?: number): Promise<MetricsLog> {
    if (truncateTo !== undefined) await truncate(path, truncateTo);
    const handle = await open(path, truncateTo === undefined ? 'w' : 'a');
    return new MetricsLog(handle, truncateTo ?? 0);
  }

  /** Bytes written so far. */
  get bytes(): number {
    return this.#bytes;
  }

  async write(line: MetricsLine): Promise<void> {
    const text = `${JSON.stringify(line)}\n`;
    await this.#handle.write(text);
    this.#bytes += Buffer.byteLength(text);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#handle.close();
  }
}

/** Reads every line of a metrics log. */
export async function readMetrics(path: string): Promise<MetricsLine[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new StreamsError('STREAMS_NOT_FOUND', `[streams/trainer] no metrics log at ${path}`, {
      cause,
      fix: 'give the run directory of a streams train run (it holds metrics.jsonl)',
    });
  }
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l, i) => {
      try {
        return JSON.parse(l) as MetricsLine;
      } catch (cause) {
        throw new StreamsError(
          'STREAMS_INDEX_INVALID',
          `[streams/trainer] ${path}:${i + 1} is not JSON`,
          {
            cause,
            fix: 'the log was cut mid-line: resume the run or remove the last line',
          },
        );
      }
    });
}
