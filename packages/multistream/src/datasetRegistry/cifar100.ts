import { StreamsError } from '@streams/core';
import type { DatasetSpec } from '../datasetSpec.js';
import { decodeCifarRecords, nameLines, readTarGzMembers } from './cifarArchive.js';
import type { SplitOptions } from './idx.js';

const ARCHIVE = {
  name: 'cifar-100-binary.tar.gz',
  url: 'cifar-100-binary.tar.gz',
  size: 168_513_733,
  sha256: '58a81ae192c23a4be8b1804d68e518ed807d710a4eb253b1f2a199162a40d8ec',
};

/** Options of `cifar-100`. */
export interface Cifar100Options extends SplitOptions {
  /** Which labels are `y`: the 100 `fine` classes (default) or the 20 `coarse` superclasses; both are in `labels`. */
  label?: 'fine' | 'coarse';
}

/** `cifar-100`: 60,000 32x32 colour images, 100 fine classes in 20 coarse superclasses. */
export const cifar100: DatasetSpec<Cifar100Options> = {
  info: (o) => ({
    description: `CIFAR-100 (Krizhevsky), 32x32 colour images, ${o?.label === 'coarse' ? '20 coarse superclasses' : '100 fine classes'}`,
    numSamples: (o?.split ?? 'train') === 'train' ? 50_000 : 10_000,
    shape: [32, 32, 3],
    numClasses: o?.label === 'coarse' ? 20 : 100,
    source: 'https://www.cs.toronto.edu/~kriz/',
  }),
  baseUrl: 'https://www.cs.toronto.edu/~kriz/',
  files: [ARCHIVE],
  async load(o) {
    const file = (o.split ?? 'train') === 'train' ? 'train.bin' : 'test.bin';
    const members = await readTarGzMembers(o.paths[ARCHIVE.name]!, (name) =>
      /\/(train\.bin|test\.bin|coarse_label_names\.txt|fine_label_names\.txt)$/.test(name),
    );
    const get = (suffix: string) => [...members].find(([n]) => n.endsWith(`/${suffix}`))?.[1];
    const data = get(file);
    if (!data) {
      throw new StreamsError(
        'STREAMS_INDEX_INVALID',
        `[streams/multistream] cifar-100: the archive has no ${file}`,
        { fix: `remove ${o.paths[ARCHIVE.name]} so that it is downloaded again` },
      );
    }
    const use = o.label ?? 'fine';
    return decodeCifarRecords(
      'cifar-100',
      [data],
      ['coarse', 'fine'],
      use,
      use === 'coarse' ? 20 : 100,
      nameLines(get(`${use}_label_names.txt`)),
    );
  },
};
