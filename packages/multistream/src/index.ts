export {
  type RenderChartOptions,
  type RenderedChart,
  renderChart,
  type VegaLiteSpec,
} from './charts.js';
export {
  type ClTask,
  classIncrementalSplit,
  type LabelSplitOptions,
  permutedTasks,
  rotatedTasks,
  rotateImage,
  taskIncrementalSplit,
} from './clTasks.js';
export {
  type CoherentBatch,
  type CoherentOptions,
  type CoherentState,
  coherentBatchCount,
  coherentBatches,
} from './coherentBatches.js';
export {
  type CoherentCollate,
  type CoherentDataBatch,
  CoherentLoader,
  type CoherentLoaderOptions,
  type CoherentLoaderState,
} from './coherentLoader.js';
export {
  datasetDir,
  ensureDatasetFiles,
  fileUrl,
  findLocalFiles,
  kaggleCredentials,
} from './datasetFiles.js';
export type {
  DatasetMetrics,
  SampleInfo,
  SampleTransform,
  StreamingDatasetOptions,
} from './datasetOptions.js';
export type { Cifar100Options } from './datasetRegistry/cifar100.js';
export {
  FASHION_MNIST_DIR,
  type FashionMnistOptions,
} from './datasetRegistry/fashionMnist.js';
export { parseIdx, type SplitOptions } from './datasetRegistry/idx.js';
export { type MatArray, readMatFile } from './datasetRegistry/matFile.js';
export { loadMnist } from './datasetRegistry/mnistNpm.js';
export { loadToy8, type Toy8Options, toy8Step } from './datasetRegistry/toy8.js';
export type {
  DatasetInfo,
  DatasetLoadOptions,
  DatasetSpec,
  FileVersion,
  LoaderOptions,
  RemoteFile,
  TensorDataset,
} from './datasetSpec.js';
export type { DatasetState } from './datasetState.js';
export {
  type DatasetListing,
  gatherExamples,
  getDatasetSpec,
  listDatasets,
  loadDataset,
  registerDataset,
} from './datasets.js';
export { type SkippedSample, sampleFailed } from './decodePolicy.js';
export {
  type BatchingMethod,
  buildEpochPlan,
  type EpochPlan,
  locateSample,
  type OrderMode,
  PLAN_VERSION,
  type PlanConfig,
  type PlanStream,
  streamOfSample,
} from './epochPlan.js';
export {
  globalPosition,
  type PartitionOptions,
  type PlanSlice,
  partitionPlan,
} from './partition.js';
export { type ResampledStream, resampleStream, type SamplingMethod } from './resample.js';
export {
  apportion,
  constantSchedule,
  linearSchedule,
  piecewiseSchedule,
  type Schedule,
  scheduledBatch,
} from './schedule.js';
export type { SequenceDecoder, SequenceSource } from './sequenceSource.js';
export {
  type StreamingSequenceOptions,
  streamingDatasetSequences,
} from './sequenceSources/streamingDataset.js';
export {
  decodeTextTokens,
  type TextFileOptions,
  type TextTokens,
  textFileSequences,
  textTokenCount,
} from './sequenceSources/textFiles.js';
export { tokenSequences } from './sequenceSources/tokens.js';
export {
  decodeVideoFrames,
  type VideoFrameOptions,
  videoFrameCount,
} from './sequenceSources/video.js';
export { videoDirectorySequences } from './sequenceSources/videoDirectory.js';
export { ShardPool } from './shardPool.js';
export {
  divideSpans,
  SHUFFLE_ALGORITHMS,
  type ShuffleAlgorithm,
  type ShuffledOrder,
  type ShuffleOptions,
  sequentialOrder,
  shuffleUnits,
} from './shuffle.js';
export {
  applyStreamDefaults,
  parseCount,
  type ResolvedWeights,
  resolveWeights,
  Stream,
  type StreamDefaults,
  type StreamOptions,
  type StreamWeightSpec,
} from './stream.js';
export { StreamingDataset } from './streamingDataset.js';
export {
  type BatchOptions,
  type ExperienceStreamOptions,
  type SampleBatch,
  StreamsDataset,
  type StreamsDatasetOptions,
  type StreamsExperience,
  type StreamsTensors,
} from './streamsDataset.js';
export {
  type ExhaustionPolicy,
  SIGNAL_MAX,
  SIGNAL_MIN,
  SIGNAL_START,
  StreamsWaveform,
  type StreamsWaveformOptions,
  type VisualizeOptions,
  type WaveformStep,
} from './streamsWaveform.js';
