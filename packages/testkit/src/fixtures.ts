import { fileURLToPath } from 'node:url';

/**
 * The MosaicML reference dataset, vendored in this package: `plain/` was written by MosaicML
 * `streaming`'s own `MDSWriter`, `expected.json` holds every sample (see its README.md).
 */
export const MDS_REFERENCE_DIR = fileURLToPath(
  new URL('../fixtures/mds-reference/', import.meta.url),
);
