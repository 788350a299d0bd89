// tfjs-core's declarations use the global `Long` of @types/long; consumers that restrict
// `types` (strict NodeNext projects) would otherwise fail to compile our tensor-typed API.
/// <reference types="long" />

export {
  BACKEND_NAMES,
  type BackendInfo,
  type BackendName,
  backendInfo,
  defaultNativeThreads,
  type SelectBackendOptions,
  selectBackend,
} from './backend.js';
export { NATIVE_PACKAGES, type NativePackage, nativePackageDir } from './backendPackages.js';
export {
  DEFAULT_TF_VERSION,
  findCudaDriver,
  SETUP_STAMP,
  type SetupTfOptions,
  type SetupTfResult,
  setupTf,
} from './backendSetup.js';
export { type Batch, type BatchSource, concatBatches, type TensorBatch } from './batch.js';
export { type CheckpointManifest, readCheckpoint, writeCheckpoint } from './checkpoint.js';
export {
  ContinualLearner,
  type LearnerHooks,
  type LearnerOptions,
  type LearnerState,
} from './continualLearner.js';
export { gemObjective, solveGemDual } from './gemQp.js';
export {
  registerTrainingGradients,
  registerWasmTrainingKernels,
} from './kernels/registerKernels.js';
export type {
  EvalMetrics,
  EvalResult,
  LearnerProgress,
  StepInfo,
  TrainExperienceOptions,
} from './learnerTypes.js';
export { perSampleLoss, reduceLoss, softCrossEntropy } from './losses.js';
export {
  MEMORY_POLICIES,
  MemoryBuffer,
  type MemoryFilter,
  type MemoryOptions,
  type MemoryPolicy,
  type MemoryReport,
} from './memoryBuffer.js';
export {
  averageAccuracy,
  bwt,
  type ClMetrics,
  clMetrics,
  confusionMatrix,
  evaluateExperiences,
  forgetting,
  fwt,
  type ResultMatrix,
} from './metrics.js';
export {
  createModel,
  type ModelFactory,
  type ModelSpec,
  modelKinds,
  registerModel,
} from './modelRegistry.js';
export type { CnnBlock, CnnSpec } from './models/cnn.js';
export type { Conv2dAutoencoderSpec } from './models/conv2dAutoencoder.js';
export type { Conv3dAutoencoderSpec } from './models/conv3dAutoencoder.js';
export type { Activation, Padding } from './models/layers.js';
export type { MlpSpec } from './models/mlp.js';
export type { MlpAutoencoderSpec } from './models/mlpAutoencoder.js';
export type { ApplyOptions, Model, ModelSpecBase, ModelTask, Param } from './models/model.js';
export { Optimizer, type OptimizerConfig } from './optimizer.js';
export type { AgemOptions } from './strategies/agem.js';
export { agemProject } from './strategies/agem.js';
export { type EwcOptions, empiricalFisher } from './strategies/ewc.js';
export type { GdumbOptions } from './strategies/gdumb.js';
export type { GemOptions } from './strategies/gem.js';
export type { JointOptions } from './strategies/joint.js';
export type { LwfOptions } from './strategies/lwf.js';
export type { ReplayOptions } from './strategies/replay.js';
export type { SiOptions } from './strategies/si.js';
export type {
  LearnerMode,
  SavedState,
  StateArrays,
  Strategy,
  StrategyContext,
  StrategyFactory,
} from './strategy.js';
export {
  createStrategy,
  registerStrategy,
  type StrategyConfig,
  strategyNames,
} from './strategyRegistry.js';
