// Private test utilities shared by the streams packages. Each area adds its exports below.
export { type BenchEntry, benchEntry, benchTable, writeBenchResults } from './bench.js';
