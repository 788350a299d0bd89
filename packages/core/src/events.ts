/** The kinds of events streams packages emit. */
export type StreamsEventKind =
  | 'progress'
  | 'metric'
  | 'retry'
  | 'throttle'
  | 'warning'
  | 'evict'
  | 'info';

/**
 * One progress or metrics event. Every package emits this shape, so one listener can log, plot
 * or forward everything. Never carries credentials: URLs are redacted by their emitters.
 */
export interface StreamsEvent {
  /** Emitting package, e.g. `cache`, `downloader`. */
  source: string;
  kind: StreamsEventKind;
  /** What happened, e.g. `download.done`, `cache.evict`. */
  name: string;
  /** Milliseconds since the epoch. */
  time: number;
  /** Monotonic counters at the time of the event (samples, hits, retries...). */
  counters?: Record<string, number>;
  /** Bytes moved by this event. */
  bytes?: number;
  /** Duration of the operation this event closes, in milliseconds. */
  durationMs?: number;
  /** Coordinates and small details (stream, shard, url without credentials, attempt...). */
  attrs?: Record<string, string | number | boolean | undefined>;
}

export type StreamsEventListener = (event: StreamsEvent) => void;

/** A minimal typed event hub. A throwing listener never breaks the emitter or other listeners. */
export class EventHub {
  private readonly listeners = new Set<StreamsEventListener>();

  constructor(private readonly source: string) {}

  /** Adds a listener; returns a function that removes it. */
  on(listener: StreamsEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** True when anyone listens (to skip building events nobody reads). */
  get active(): boolean {
    return this.listeners.size > 0;
  }

  emit(event: Omit<StreamsEvent, 'source' | 'time'> & { time?: number }): void {
    if (this.listeners.size === 0) return;
    const full: StreamsEvent = { ...event, source: this.source, time: event.time ?? Date.now() };
    for (const listener of this.listeners) {
      try {
        listener(full);
      } catch (err) {
        queueMicrotask(() => {
          process.emitWarning(`[streams/${this.source}] an event listener threw: ${String(err)}`);
        });
      }
    }
  }
}
