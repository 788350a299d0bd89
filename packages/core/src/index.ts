export {
  abortError,
  combineSignals,
  isAbortError,
  raceSignal,
  signalReason,
  sleep,
  throwIfAborted,
  whenAborted,
} from './abort.js';
export { type Disposable, makeDisposable } from './disposable.js';
export {
  DTYPES,
  type Dtype,
  type DtypeInfo,
  float16ToFloat32,
  float32ToFloat16,
  isDtype,
  type TypedArray,
  type TypedArrayConstructor,
} from './dtype.js';
export { parseDuration } from './duration.js';
export {
  ERROR_CODES,
  type ErrorCoordinates,
  isStreamsError,
  StreamsError,
  type StreamsErrorCode,
  type StreamsErrorOptions,
} from './errors.js';
export {
  EventHub,
  type StreamsEvent,
  type StreamsEventKind,
  type StreamsEventListener,
} from './events.js';
export {
  decodeNpy,
  encodeNpy,
  type NpyArray,
  type NpyDtype,
  type NpyWhere,
  typedArrayFrom,
} from './npy.js';
export { importOptional } from './optional.js';
export { deriveKey, fnv1a64, type KeyPart, mix64, Rng, rng, SplitMix64 } from './prng.js';
export { redactText, redactUrl } from './redact.js';
export { Semaphore } from './semaphore.js';
export { formatBytes, parseBytes, type Settings, settings } from './settings.js';
export { type Launcher, type World, type WorldOptions, world } from './world.js';
