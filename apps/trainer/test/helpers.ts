import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { MDS_REFERENCE_DIR } from '@streams/testkit';

/** The MosaicML reference dataset, vendored in the test kit. */
export const REF = MDS_REFERENCE_DIR;
export const PLAIN = join(REF, 'plain');

/** A writable that keeps what a command prints. */
export function sink(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  return { stream, text: () => chunks.join('') };
}

/** Every sample of the reference dataset, as MosaicML's writer received it. */
export async function expected(): Promise<Record<string, unknown>[]> {
  return JSON.parse(await readFile(join(REF, 'expected.json'), 'utf8')).plain.samples;
}
