import { raceSignal, whenAborted } from '@streams/core';

/**
 * The cache's waits on abort signals: core's fan-out, which keeps one `abort` listener per signal
 * however many fills wait on it (the caller's signal, the cache's close).
 */
export const abortFanout = {
  /** Calls `onAbort` once when `signal` aborts; returns its removal. */
  add: whenAborted,
  /** Settles like `promise`, or rejects with the signal's reason when it aborts first. */
  race: raceSignal,
} as const;
