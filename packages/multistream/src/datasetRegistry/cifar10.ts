import { StreamsError } from '@streams/core';
import type { DatasetSpec } from '../datasetSpec.js';
import { decodeCifarRecords, nameLines, readTarGzMembers } from './cifarArchive.js';
import type { SplitOptions } from './idx.js';

const ARCHIVE = {
  name: 'cifar-10-binary.tar.gz',
  url: 'cifar-10-binary.tar.gz',
  size: 170_052_171,
  sha256: 'c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd',
};

/** `cifar-10`: 60,000 32x32 colour images in 10 classes (Krizhevsky), `[32, 32, 3]` HWC. */
export const cifar10: DatasetSpec<SplitOptions> = {
  info: (o) => ({
    description: 'CIFAR-10 (Krizhevsky), 32x32 colour images in 10 classes',
    numSamples: (o?.split ?? 'train') === 'train' ? 50_000 : 10_000,
    shape: [32, 32, 3],
    numClasses: 10,
    source: 'https://www.cs.toronto.edu/~kriz/',
  }),
  baseUrl: 'https://www.cs.toronto.edu/~kriz/',
  files: [ARCHIVE],
  async load(o) {
    const train = (o.split ?? 'train') === 'train';
    const batch = (name: string) =>
      train ? /data_batch_[1-5]\.bin$/.test(name) : name.endsWith('test_batch.bin');
    const members = await readTarGzMembers(
      o.paths[ARCHIVE.name]!,
      (name) => batch(name) || name.endsWith('batches.meta.txt'),
    );
    const names = [...members.keys()].filter(batch).sort();
    if (names.length !== (train ? 5 : 1)) {
      throw new StreamsError(
        'STREAMS_INDEX_INVALID',
        `[streams/multistream] cifar-10: the archive has ${names.length} ${train ? 'training' : 'test'} batches`,
        { fix: `remove ${o.paths[ARCHIVE.name]} so that it is downloaded again` },
      );
    }
    const meta = [...members].find(([n]) => n.endsWith('batches.meta.txt'))?.[1];
    return decodeCifarRecords(
      'cifar-10',
      names.map((n) => members.get(n)!),
      ['label'],
      'label',
      10,
      nameLines(meta),
    );
  },
};
