// The resumable state of a StreamingDataset (a handful of integers) and the checks a state passes
// before a dataset adopts it.
import { StreamsError } from '@streams/core';
import { PLAN_VERSION } from './epochPlan.js';

/** The resumable state: a few integers. */
export interface DatasetState {
  version: number;
  epoch: number;
  /** Global samples consumed this epoch (a position in the epoch's global order). */
  samplesSeen: number;
  seed: number;
  numCanonicalNodes: number;
  /** Step of a time-varying schedule (0 when none). */
  schedulePosition: number;
  /** Samples per schedule step (only with a schedule). */
  scheduleStepSize?: number;
  /** Samples per global batch that composed the order (only with stratified or perStream batching). */
  globalBatchSize?: number;
}

/** What a dataset checks a state against. */
export interface StateExpectations {
  seed: number;
  /** Canonical nodes the dataset was opened with, when given explicitly (else the state's are adopted). */
  numCanonicalNodes: number | undefined;
  /** True when the dataset mixes by a schedule (the state must carry its step size). */
  scheduled: boolean;
}

function bad(what: string, fix: string): StreamsError {
  return new StreamsError('STREAMS_STATE_INVALID', `[streams/multistream] ${what}`, { fix });
}

/**
 * Refuses a state this dataset cannot continue: malformed fields, another plan version, another
 * seed, other explicit canonical nodes, or a schedule mismatch (`STREAMS_STATE_INVALID`).
 */
export function checkState(state: DatasetState, expect: StateExpectations): void {
  for (const k of ['version', 'epoch', 'samplesSeen', 'seed', 'numCanonicalNodes'] as const) {
    if (!Number.isSafeInteger(state?.[k]) || state[k] < 0)
      throw bad(`state.${k} is not a non-negative integer`, 'pass an object saved by stateDict()');
  }
  if (state.version !== PLAN_VERSION)
    throw bad(
      `state has plan version ${state.version}, this build plans with ${PLAN_VERSION}`,
      'resume with the streams version that saved the state, or restart the epoch',
    );
  if (state.seed !== expect.seed)
    throw bad(
      `state has seed ${state.seed}, the dataset ${expect.seed}`,
      'open the dataset with the seed of the saved run',
    );
  if (
    expect.numCanonicalNodes !== undefined &&
    state.numCanonicalNodes !== expect.numCanonicalNodes
  )
    throw bad(
      `state has numCanonicalNodes ${state.numCanonicalNodes}, the dataset ${expect.numCanonicalNodes}`,
      'drop the numCanonicalNodes option to adopt the saved one',
    );
  if (expect.scheduled) {
    const step = state.scheduleStepSize;
    if (step === undefined || !(Number.isSafeInteger(step) && step >= 1))
      throw bad(
        'state.scheduleStepSize is missing: the state was not saved with a schedule',
        'resume with the options of the saved run',
      );
  }
  if (
    state.globalBatchSize !== undefined &&
    !(Number.isSafeInteger(state.globalBatchSize) && state.globalBatchSize >= 1)
  )
    throw bad(
      'state.globalBatchSize is not a positive integer',
      'pass an object saved by stateDict()',
    );
}

/** Refuses a position past the end of the epoch it names (the data or weights changed since). */
export function checkPosition(state: DatasetState, epochLength: number): void {
  if (state.samplesSeen > epochLength)
    throw bad(
      `state.samplesSeen ${state.samplesSeen} is past the epoch's ${epochLength} samples`,
      'the streams or weights changed since the state was saved',
    );
}
