// compressjs ships no types; only the bzip2 entry points we call are declared.
declare module 'compressjs' {
  interface Codec {
    compressFile(input: Uint8Array, output?: null, blockSizeMultiplier?: number): Uint8Array;
    decompressFile(input: Uint8Array): Uint8Array;
  }
  const compressjs: { Bzip2: Codec };
  export default compressjs;
}
