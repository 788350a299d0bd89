export type { ByteSource, Fetched, FetchOptions, ReadOptions } from './byteSource.js';
export { ChunkReader, gunzipChunks, type TextLine, textLines } from './chunkReader.js';
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
  type CsvRecord,
  type CsvType,
  convertCsvCell,
  inferCsvType,
  parseCsv,
} from './csv.js';
export {
  type OpenDatasetOptions,
  openCsvDataset,
  openDataset,
  openJsonlDataset,
  openWebDataset,
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
export type {
  DatasetColumn,
  DatasetFormat,
  FormatDataset,
  FormatOpenOptions,
  FormatUnit,
  LoadedUnit,
  Sample,
  SampleFetchOptions,
  ShardFormat,
  UnitFile,
  UnitOptions,
} from './formats/format.js';
export { LoadedMds } from './formats/mds.js';
export {
  describeFormats,
  detectFormat,
  getFormat,
  listFormats,
  registerFormat,
} from './formats/registry.js';
export {
  asSampleDataset,
  type SampleDataset,
  type SampleDatasetOptions,
} from './formats/sampleDataset.js';
export {
  parseWidsIndex,
  WIDS_INDEX_NAME,
  WIDS_KIND,
  type WidsIndex,
  type WidsShard,
} from './formats/wids.js';
export { HASH_ALGORITHMS, hashBytes, isHashAlgorithm } from './hashing.js';
export {
  type BuildIndexOptions,
  type BuildIndexResult,
  buildIndex,
  checkIndexOut,
} from './indexBuild.js';
export {
  type IndexTable,
  type IndexTableOptions,
  openIndexTable,
  plainRow,
  type TableFormat,
  type TableUnit,
  tableFormatOf,
  URL_COLUMN_NAMES,
} from './indexTable.js';
export { LocalByteSource } from './localByteSource.js';
export {
  type MdsDataset,
  type OpenMdsOptions,
  openMdsDataset,
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
export type { LoadedMdsShard } from './mdsShardLoader.js';
export {
  type MdsFileInfo,
  type MdsShardEntry,
  MdsWriter,
  type MdsWriterOptions,
} from './mdsWriter.js';
export { type MdsShard, parseMdsIndex } from './parseMdsIndex.js';
export { plainValue, typeName } from './plainValue.js';
export { compareCodePoints, pyFloatRepr, pyJsonDumps, pyJsonString } from './pyJson.js';
export {
  cacheKeyOf,
  RoutingByteSource,
  type RoutingByteSourceOptions,
} from './routingByteSource.js';
export { compileFilter, type RowPredicate } from './rowFilter.js';
export { sampleToJsonLine, toJsonValue } from './sampleJson.js';
export { expandBraces, globToRegExp, resolveShardUrls } from './shardList.js';
export {
  checkMemberName,
  locateTarMembers,
  type ReadTarOptions,
  readTar,
  readTarBytes,
  type TarMember,
} from './tarReader.js';
export { csvRecords, type JsonlEntry, jsonlEntries, jsonlRecords } from './textShards.js';
export {
  basenameUrl,
  checkNamedUrl,
  dirnameUrl,
  fileUrl,
  isRemoteUrl,
  joinUrl,
  toLocalPath,
  unsafeRelativePath,
} from './urls.js';
export {
  type DroppedRow,
  type ValidateIndexOptions,
  type ValidateIndexResult,
  validateIndex,
} from './validateIndex.js';
export {
  tarMember,
  WdsWriter,
  type WdsWriterOptions,
  wdsMemberBytes,
  wdsMemberExtension,
} from './wdsWriter.js';
export {
  tarMembers,
  type WdsGroup,
  WdsGrouper,
  type WdsSample,
  type WebDatasetOptions,
  wdsGroups,
  wdsGroupsOf,
  wdsSampleOf,
  wdsSamplesFromTar,
  wdsSplitKey,
} from './webDataset.js';
