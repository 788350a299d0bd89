import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The MosaicML reference dataset shipped in shared/fixtures. */
export const MDS_REFERENCE = fileURLToPath(
  new URL('../../../../shared/fixtures/mds-reference/', import.meta.url),
);

/** A temp directory removed by the returned cleanup. */
export async function tempDir(
  prefix = 'streams-index-',
): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export interface ReferenceExpected {
  columns: Record<string, string>;
  n: number;
  samples: Record<string, unknown>[];
}
