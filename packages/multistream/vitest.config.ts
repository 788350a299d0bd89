import { defineProject } from 'vitest/config';
import { sourceConditions } from '../../vitest.shared';

// The AWS SDK (reached through @streams/downloader's s3 driver) ships extensionless ESM under the
// "module" condition, which Node cannot load: resolve third-party packages with Node's own
// conditions, the source condition kept first.
const conditions = ['@streams/source', 'node', 'import', 'default'];

export default defineProject({
  ...sourceConditions,
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['node'] } },
  test: {
    name: 'multistream',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
  },
});
