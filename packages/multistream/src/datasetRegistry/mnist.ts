import type { DatasetSpec } from '../datasetSpec.js';
import { type IdxFiles, idxSplitFiles, loadIdxSplit, type SplitOptions } from './idx.js';

/** MNIST's gzipped IDX files (the mirror torchvision uses; same bytes as LeCun's originals). */
const FILES: IdxFiles = {
  train: [
    { size: 9_912_422, sha256: '440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609' },
    { size: 28_881, sha256: '3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c' },
  ],
  test: [
    { size: 1_648_877, sha256: '8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6' },
    { size: 4_542, sha256: 'f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6' },
  ],
};

/** `mnist`: the 70,000 MNIST digits (60,000 train, 10,000 test), downloaded on first use. */
export const mnist: DatasetSpec<SplitOptions> = {
  info: (o) => ({
    description: 'MNIST handwritten digits (LeCun, Cortes, Burges)',
    numSamples: (o?.split ?? 'train') === 'train' ? 60_000 : 10_000,
    shape: [28, 28],
    numClasses: 10,
    source: 'https://ossci-datasets.s3.amazonaws.com/mnist/',
  }),
  baseUrl: 'https://ossci-datasets.s3.amazonaws.com/mnist/',
  files: (o) => idxSplitFiles(FILES, o?.split),
  load: (o) => loadIdxSplit('mnist', idxSplitFiles(FILES, o.split), o.paths),
};
