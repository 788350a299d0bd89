export { inferArrowType, plainValue, toArrowVector, typeName } from './arrowConvert.js';
export {
  type ByteSource,
  basenameUrl,
  type DriverResolver,
  dirnameUrl,
  downloaderDrivers,
  fileUrl,
  isRemoteUrl,
  joinUrl,
  LocalByteSource,
  type ReadOptions,
  type RemoteDriver,
  RoutingByteSource,
  toLocalPath,
} from './byteSource.js';
export { ChunkReader, gunzipChunks, textLines } from './chunkReader.js';
export {
  COMPRESSIONS,
  type CompressionFamily,
  type CompressionSpec,
  compress,
  decompress,
  parseCompression,
} from './compression.js';
export {
  type CsvParseOptions,
  type CsvType,
  convertCsvCell,
  inferCsvType,
  parseCsv,
} from './csv.js';
export {
  type DatasetColumn,
  type DatasetFormat,
  detectFormat,
  type OpenDatasetOptions,
  openDataset,
  type SampleDataset,
} from './dataset.js';
export {
  type ConvertOptions,
  type ConvertProgress,
  type ConvertResult,
  convertDataset,
  inferMdsEncoding,
} from './datasetConvert.js';
export {
  type ColumnStats,
  type DatasetStats,
  type DatasetStatsOptions,
  datasetStats,
} from './datasetStats.js';
export { HASH_ALGORITHMS, hashBytes, isHashAlgorithm } from './hashing.js';
export { type BuildIndexOptions, type BuildIndexResult, buildIndex } from './indexBuild.js';
export {
  type IndexTable,
  type IndexTableOptions,
  openIndexTable,
  type TableFormat,
} from './indexTable.js';
export {
  type MdsDataset,
  type MdsShard,
  type OpenMdsOptions,
  openMdsDataset,
  parseMdsIndex,
  type SampleLocation,
} from './mdsDataset.js';
export {
  type DecodeHook,
  type EncodedImage,
  floatToHalf,
  halfToFloat,
  MDS_ENCODINGS,
  type MdsCoder,
  type MdsDtype,
  mdsCoder,
  type NdArray,
  type RawImage,
  type TypedArray,
} from './mdsEncodings.js';
export {
  decodeMdsSample,
  encodeMdsShard,
  type MdsColumn,
  type MdsSample,
  MdsSchema,
  type MdsSchemaOptions,
  mdsShardOffsets,
  mdsShardSampleCount,
} from './mdsShard.js';
export {
  type MdsFileInfo,
  type MdsShardEntry,
  MdsWriter,
  type MdsWriterOptions,
} from './mdsWriter.js';
export { compareCodePoints, pyFloatRepr, pyJsonDumps, pyJsonString } from './pyJson.js';
export { compileFilter, type RowPredicate } from './rowFilter.js';
export { sampleToJsonLine, toJsonValue } from './sampleJson.js';
export { expandBraces, globToRegExp, resolveShardUrls } from './shardList.js';
export { checkMemberName, type ReadTarOptions, readTar, type TarMember } from './tarReader.js';
export {
  csvRecords,
  jsonlRecords,
  openCsvDataset,
  openJsonlDataset,
  type TextShardOptions,
} from './textShards.js';
export { tarMember, WdsWriter, type WdsWriterOptions, wdsMemberBytes } from './wdsWriter.js';
export {
  openWebDataset,
  type WdsSample,
  type WebDatasetOptions,
  wdsSamplesFromTar,
  wdsSplitKey,
} from './webDataset.js';
