import type { DatasetSpec } from '../datasetSpec.js';
import { type IdxFiles, idxSplitFiles, loadIdxSplit, type SplitOptions } from './idx.js';

/** Where Debian's `dataset-fashion-mnist` installs the gzipped IDX files. */
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/**
 * Zalando's files, and Debian's copies of them: the package recompressed each file without the
 * gzip name field (`gzip -n`), so its bytes, size and digest differ while the data is the same.
 * Both versions are accepted.
 */
const FILES: IdxFiles = {
  train: [
    {
      size: 26_421_880,
      sha256: '3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84',
      alternatives: [
        {
          size: 26_421_856,
          sha256: 'b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7',
        },
      ],
    },
    {
      size: 29_515,
      sha256: 'a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845',
      alternatives: [
        {
          size: 29_491,
          sha256: '0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056',
        },
      ],
    },
  ],
  test: [
    {
      size: 4_422_102,
      sha256: '346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073',
      alternatives: [
        {
          size: 4_422_079,
          sha256: 'cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa',
        },
      ],
    },
    {
      size: 5_148,
      sha256: '67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5',
      alternatives: [
        { size: 5_125, sha256: '8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05' },
      ],
    },
  ],
};

const CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];

/** Options of `fashion-mnist`. */
export interface FashionMnistOptions extends SplitOptions {
  /** A directory holding the four IDX files, searched first (default `STREAMS_FASHION_MNIST_DIR`). */
  dir?: string;
}

/**
 * `fashion-mnist`: Zalando's 70,000 clothing images. Read from Debian's `dataset-fashion-mnist`
 * (or `STREAMS_FASHION_MNIST_DIR`) when installed, else downloaded.
 */
export const fashionMnist: DatasetSpec<FashionMnistOptions> = {
  info: (o) => ({
    description: 'Fashion-MNIST (Zalando Research), 10 classes of clothing',
    numSamples: (o?.split ?? 'train') === 'train' ? 60_000 : 10_000,
    shape: [28, 28],
    numClasses: 10,
    source: 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/',
  }),
  baseUrl: 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/',
  files: (o) => idxSplitFiles(FILES, o?.split),
  localDirs: (o) =>
    [o?.dir, process.env.STREAMS_FASHION_MNIST_DIR, FASHION_MNIST_DIR].filter(
      (d): d is string => !!d,
    ),
  load: (o) => loadIdxSplit('fashion-mnist', idxSplitFiles(FILES, o.split), o.paths, CLASSES),
};
