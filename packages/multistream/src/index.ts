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
  coherentBatches,
} from './coherentBatches.js';
export {
  type DatasetInfo,
  type DatasetListing,
  type DatasetSpec,
  FASHION_MNIST_DIR,
  type FashionMnistOptions,
  gatherExamples,
  listDatasets,
  loadDataset,
  loadFashionMnist,
  loadMnist,
  loadToy8,
  parseIdx,
  registerDataset,
  type TensorDataset,
  type Toy8Options,
  toy8Step,
} from './datasets.js';
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
export { type LoadedShard, ShardPool } from './shardPool.js';
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
export {
  type DatasetMetrics,
  type DatasetState,
  type SampleInfo,
  type SampleTransform,
  StreamingDataset,
  type StreamingDatasetOptions,
} from './streamingDataset.js';
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
