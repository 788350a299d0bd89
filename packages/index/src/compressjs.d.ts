// compressjs ships no types; the bzip2 writer of compression.ts uses this much of it.
declare module 'compressjs' {
  const compressjs: unknown;
  export default compressjs;
}
