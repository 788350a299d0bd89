// The binary versions of CIFAR-10 and CIFAR-100: a .tar.gz of fixed-size records, each label
// byte(s) then a 32x32 image as 1,024 red, 1,024 green and 1,024 blue bytes (CHW).
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { StreamsError } from '@streams/core';
import { readTar } from '@streams/index';
import type { TensorDataset } from '../datasetSpec.js';

const PIXELS = 32 * 32;

/** The members of a .tar.gz whose names `want` accepts, by name. */
export async function readTarGzMembers(
  path: string,
  want: (name: string) => boolean,
): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  const chunks = createReadStream(path).pipe(createGunzip());
  for await (const member of readTar(chunks as AsyncIterable<Uint8Array>, { url: path })) {
    if (want(member.name)) out.set(member.name, member.data);
  }
  return out;
}

/**
 * Decodes records of `labelBytes` label bytes and one image each into a dataset with HWC pixels
 * in [0, 1]. `labelColumns` names the label bytes (CIFAR-100: coarse, fine); `y` is `use`.
 */
export function decodeCifarRecords(
  name: string,
  parts: Uint8Array[],
  labelColumns: string[],
  use: string,
  numClasses: number,
  classNames: string[],
): TensorDataset {
  const record = labelColumns.length + 3 * PIXELS;
  for (const p of parts) {
    if (p.length % record !== 0) {
      throw new StreamsError(
        'STREAMS_INDEX_INVALID',
        `[streams/multistream] ${name}: a batch of ${p.length} bytes is not a whole number of ${record}-byte records`,
        {
          fix: `remove the archive from the ${name} data directory so that it is downloaded again`,
        },
      );
    }
  }
  const n = parts.reduce((a, p) => a + p.length / record, 0);
  const x = new Float32Array(n * 3 * PIXELS); // [n, 32, 32, 3] in [0, 1]
  const labels = Object.fromEntries(labelColumns.map((c) => [c, new Int32Array(n)])); // each [n]
  let i = 0;
  for (const p of parts) {
    for (let r = 0; r < p.length; r += record, i++) {
      labelColumns.forEach((c, k) => {
        labels[c]![i] = p[r + k]!;
      });
      const img = r + labelColumns.length;
      const base = i * 3 * PIXELS;
      for (let q = 0; q < PIXELS; q++) {
        x[base + 3 * q] = p[img + q]! / 255;
        x[base + 3 * q + 1] = p[img + PIXELS + q]! / 255;
        x[base + 3 * q + 2] = p[img + 2 * PIXELS + q]! / 255;
      }
    }
  }
  return {
    name,
    x,
    y: labels[use]!,
    shape: [32, 32, 3],
    numClasses,
    numSamples: n,
    ...(classNames.length === numClasses ? { classNames } : {}),
    labels,
  };
}

/** The non-empty lines of a label-names member. */
export function nameLines(bytes: Uint8Array | undefined): string[] {
  return new TextDecoder()
    .decode(bytes ?? new Uint8Array())
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
}
