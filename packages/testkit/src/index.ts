// Private test utilities shared by the streams packages. Each area adds its exports below.
export { type BenchEntry, benchEntry, benchTable, writeBenchResults } from './bench.js';
export {
  FAULT_KINDS,
  type FaultKind,
  type FaultProxy,
  type FaultProxyOptions,
  type ProxyRecord,
  startFaultProxy,
} from './faultProxy.js';
export { MDS_REFERENCE_DIR } from './fixtures.js';
export {
  type GcsEmulator,
  type GcsEmulatorOptions,
  type GcsRequestRecord,
  startGcsEmulator,
} from './gcsEmulator.js';
export { type HostileCase, type HostileRemote, startHostileRemote } from './hostileRemote.js';
export {
  type HttpRequestRecord,
  type HttpServerOptions,
  startHttpServer,
  type TestHttpServer,
} from './httpServer.js';
export { linesFormat } from './linesFormat.js';
export {
  makeTestVideo,
  makeTestVideos,
  makeToneSteps,
  type TestVideoOptions,
  toneFrequency,
} from './media.js';
export { numpyPython } from './python.js';
export {
  type ChildOutcome,
  classifyBlocks,
  commentedOutput,
  REPO_ROOT,
  type ReadmeBlock,
  readmeBlocks,
  runChild,
  runTsExample,
} from './readme.js';
export { median, pairedRounds } from './rounds.js';
export { type S3ServerOptions, startS3Server, type TestS3Server } from './s3Server.js';
export { checkSigV4, NodeSha256, type SigV4Check } from './sigV4.js';
