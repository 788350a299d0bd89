import { readFile } from 'node:fs/promises';
import { StreamsError } from '@streams/core';
import type { DatasetSpec } from '../datasetSpec.js';
import type { SplitOptions } from './idx.js';
import { readMatFile } from './matFile.js';

const FILES = {
  train: {
    name: 'train_32x32.mat',
    url: 'train_32x32.mat',
    size: 182_040_794,
    sha256: '435e94d69a87fde4fd4d7f3dd208dfc32cb6ae8af2240d066de1df7508d083b8',
  },
  test: {
    name: 'test_32x32.mat',
    url: 'test_32x32.mat',
    size: 64_275_384,
    sha256: 'cdce80dfb2a2c4c6160906d0bd7c68ec5a99d7ca4831afa54f09182025b6a75b',
  },
};

/** `svhn`: Street View House Numbers, cropped 32x32 digits (format 2), `[32, 32, 3]` HWC; label 10 of the files is digit 0. */
export const svhn: DatasetSpec<SplitOptions> = {
  info: (o) => ({
    description: 'SVHN (Netzer et al.), cropped 32x32 house-number digits',
    numSamples: (o?.split ?? 'train') === 'train' ? 73_257 : 26_032,
    shape: [32, 32, 3],
    numClasses: 10,
    source: 'http://ufldl.stanford.edu/housenumbers/',
  }),
  baseUrl: 'http://ufldl.stanford.edu/housenumbers/',
  files: (o) => [FILES[o?.split ?? 'train']],
  async load(o) {
    const file = FILES[o.split ?? 'train'];
    const path = o.paths[file.name]!;
    const vars = readMatFile(await readFile(path), path);
    const X = vars.get('X');
    const Y = vars.get('y');
    const n = X?.dims[3] ?? 0;
    if (
      !X ||
      !Y ||
      X.dims.length !== 4 ||
      X.dims[0] !== 32 ||
      X.dims[1] !== 32 ||
      X.dims[2] !== 3 ||
      Y.data.length !== n
    ) {
      throw new StreamsError(
        'STREAMS_INDEX_INVALID',
        `[streams/multistream] svhn: ${path} lacks X [32, 32, 3, n] and y [n, 1]`,
        { fix: `remove ${path} so that it is downloaded again` },
      );
    }
    // X is column-major [h, w, c, n]: element (h, w, c, i) at h + 32 w + 1024 c + 3072 i.
    const x = new Float32Array(n * 3072); // [n, 32, 32, 3] in [0, 1]
    for (let i = 0; i < n; i++) {
      for (let h = 0; h < 32; h++) {
        for (let w = 0; w < 32; w++) {
          for (let c = 0; c < 3; c++) {
            x[i * 3072 + (h * 32 + w) * 3 + c] = X.data[h + 32 * w + 1024 * c + 3072 * i]! / 255;
          }
        }
      }
    }
    const y = Int32Array.from(Y.data as ArrayLike<number>, (v) => (v === 10 ? 0 : v)); // [n]
    return { name: 'svhn', x, y, shape: [32, 32, 3], numClasses: 10, numSamples: n };
  },
};
