// IDX files (gzipped), the format of MNIST, Fashion-MNIST and KMNIST.
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { StreamsError } from '@streams/core';
import type { RemoteFile, TensorDataset } from '../datasetSpec.js';

/** Parses an IDX file of unsigned bytes (magic 0x0000080N). */
export function parseIdx(
  buf: Uint8Array,
  rank: number,
  where: string,
): { dims: number[]; data: Uint8Array } {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const bad = (what: string) =>
    new StreamsError(
      'STREAMS_INDEX_INVALID',
      `[streams/multistream] ${where} is not an IDX file: ${what}`,
      { fix: 'remove the file so that it is downloaded again, or reinstall the dataset files' },
    );
  if (buf.length < 4 + 4 * rank) throw bad('too short');
  if (dv.getUint16(0) !== 0 || buf[2] !== 0x08 || buf[3] !== rank)
    throw bad(`magic ${dv.getUint32(0).toString(16)}`);
  const dims = Array.from({ length: rank }, (_, k) => dv.getUint32(4 + 4 * k));
  const count = dims.reduce((a, b) => a * b, 1);
  const start = 4 + 4 * rank;
  if (buf.length < start + count) throw bad(`${buf.length - start} data bytes, expected ${count}`);
  return { dims, data: buf.subarray(start, start + count) };
}

/** The four IDX files of an MNIST-style dataset, with sizes and digests per split. */
export type IdxFiles = Record<
  'train' | 'test',
  [images: Omit<RemoteFile, 'name' | 'url'>, labels: Omit<RemoteFile, 'name' | 'url'>]
>;

/** The remote files of one split, named as the MNIST distribution names them. */
export function idxSplitFiles(files: IdxFiles, split: 'train' | 'test' = 'train'): RemoteFile[] {
  const prefix = split === 'train' ? 'train' : 't10k';
  const [images, labels] = files[split];
  const name = (kind: string) => `${prefix}-${kind}.gz`;
  return [
    { name: name('images-idx3-ubyte'), url: name('images-idx3-ubyte'), ...images },
    { name: name('labels-idx1-ubyte'), url: name('labels-idx1-ubyte'), ...labels },
  ];
}

/** Loads gzipped IDX images and labels into a dataset with pixels in [0, 1]. */
export async function loadIdxPair(
  name: string,
  imagesPath: string,
  labelsPath: string,
  classNames?: string[],
): Promise<TensorDataset> {
  const images = parseIdx(gunzipSync(await readFile(imagesPath)), 3, imagesPath);
  const labels = parseIdx(gunzipSync(await readFile(labelsPath)), 1, labelsPath);
  const n = images.dims[0]!;
  if (labels.dims[0] !== n) {
    throw new StreamsError(
      'STREAMS_INDEX_INVALID',
      `[streams/multistream] ${name} has ${n} images but ${labels.dims[0]} labels`,
      { fix: `remove ${imagesPath} and ${labelsPath} so that they are fetched again` },
    );
  }
  const size = images.dims[1]! * images.dims[2]!;
  const x = new Float32Array(n * size); // [n, h, w] in [0, 1]
  for (let i = 0; i < x.length; i++) x[i] = images.data[i]! / 255;
  const y = Int32Array.from(labels.data); // [n]
  return {
    name,
    x,
    y,
    shape: [images.dims[1]!, images.dims[2]!],
    numClasses: 10,
    numSamples: n,
    ...(classNames ? { classNames } : {}),
  };
}

/** The split option of the IDX datasets. */
export interface SplitOptions {
  /** `train` (60,000) or `test` (10,000). Default `train`. */
  split?: 'train' | 'test';
}

/** Loads the split whose two files are in `paths`. */
export function loadIdxSplit(
  name: string,
  files: RemoteFile[],
  paths: Record<string, string>,
  classNames?: string[],
): Promise<TensorDataset> {
  return loadIdxPair(name, paths[files[0]!.name]!, paths[files[1]!.name]!, classNames);
}
