// The running figures of a StreamingDataset (samples handed out, per stream, time waited) and the
// metrics read from them and from the unit pool and node cache, returned by `metrics()` and
// emitted as `multistream.progress` events.
import type { DiskCache } from '@streams/cache';
import type { EventHub } from '@streams/core';
import type { DatasetMetrics } from './datasetOptions.js';
import type { DecodePolicy } from './decodePolicy.js';
import type { UnitLoader } from './unitLoader.js';

/** What the figures are read against besides the counts. */
export interface MetricsSources {
  loader: UnitLoader;
  cache: DiskCache | undefined;
  policy: DecodePolicy;
  /** Each stream's label and target share of the epoch, in stream order. */
  labels: readonly string[];
  targets: readonly number[];
}

/**
 * Counts what a dataset hands out. The iteration loops bump `samples` and `perStream` directly
 * (once per sample, on the hot path).
 */
export class MetricsRecorder {
  /** When the first iteration started (performance.now(); 0 before). */
  started = 0;
  samples = 0;
  waitMs = 0;
  /** Samples handed out per stream. */
  readonly perStream: number[];
  readonly #from: MetricsSources;

  constructor(from: MetricsSources) {
    this.#from = from;
    this.perStream = from.labels.map(() => 0);
  }

  /** Throughput, starvation, cache and per-stream share figures so far. */
  read(): DatasetMetrics {
    const { loader, cache, policy } = this.#from;
    const elapsed = this.started === 0 ? 0 : performance.now() - this.started;
    const hits = loader.pool.hits;
    const misses = loader.pool.misses;
    return {
      samples: this.samples,
      skipped: policy.skipped,
      samplesPerSecond: elapsed > 0 ? (this.samples * 1000) / elapsed : 0,
      waitMs: this.waitMs,
      starvation: elapsed > 0 ? this.waitMs / elapsed : 0,
      cacheHits: hits,
      cacheMisses: misses,
      cacheHitRate: hits + misses > 0 ? hits / (hits + misses) : 0,
      cacheEvictions: cache?.stats().evictions ?? 0,
      cacheBytesInUse: cache?.stats().bytesInUse ?? 0,
      queueDepth: loader.pool.queueDepth,
      activeShards: loader.pool.active,
      shares: this.#from.labels.map((label, k) => ({
        stream: label,
        target: this.#from.targets[k]!,
        actual: this.samples > 0 ? this.perStream[k]! / this.samples : 0,
      })),
    };
  }

  /** Emits the figures as a `multistream.progress` metric event. */
  emit(events: EventHub, attrs: { epoch: number; rank: number }): void {
    const m = this.read();
    const counters: Record<string, number> = {
      samples: m.samples,
      skipped: m.skipped,
      samplesPerSecond: m.samplesPerSecond,
      waitMs: m.waitMs,
      starvation: m.starvation,
      cacheHits: m.cacheHits,
      cacheMisses: m.cacheMisses,
      cacheHitRate: m.cacheHitRate,
      cacheEvictions: m.cacheEvictions,
      queueDepth: m.queueDepth,
      activeShards: m.activeShards,
    };
    m.shares.forEach((s, k) => {
      counters[`share.${k}.target`] = s.target;
      counters[`share.${k}.actual`] = s.actual;
    });
    events.emit({ kind: 'metric', name: 'multistream.progress', counters, attrs });
  }
}
