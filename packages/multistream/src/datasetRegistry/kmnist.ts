import type { DatasetSpec } from '../datasetSpec.js';
import { type IdxFiles, idxSplitFiles, loadIdxSplit, type SplitOptions } from './idx.js';

const FILES: IdxFiles = {
  train: [
    {
      size: 18_165_135,
      sha256: '51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4',
    },
    { size: 29_497, sha256: 'e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17' },
  ],
  test: [
    { size: 3_041_136, sha256: 'edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5' },
    { size: 5_120, sha256: '20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c' },
  ],
};

/** Hiragana of the ten KMNIST classes, in label order. */
const CLASSES = ['お', 'き', 'す', 'つ', 'な', 'は', 'ま', 'や', 'れ', 'を'];

/** `kmnist`: Kuzushiji-MNIST (ROIS-DS CODH), 70,000 cursive Japanese characters in 10 classes. */
export const kmnist: DatasetSpec<SplitOptions> = {
  info: (o) => ({
    description: 'Kuzushiji-MNIST: cursive hiragana, a drop-in MNIST replacement (CC BY-SA 4.0)',
    numSamples: (o?.split ?? 'train') === 'train' ? 60_000 : 10_000,
    shape: [28, 28],
    numClasses: 10,
    source: 'http://codh.rois.ac.jp/kmnist/dataset/kmnist/',
  }),
  baseUrl: 'http://codh.rois.ac.jp/kmnist/dataset/kmnist/',
  files: (o) => idxSplitFiles(FILES, o?.split),
  load: (o) => loadIdxSplit('kmnist', idxSplitFiles(FILES, o.split), o.paths, CLASSES),
};
