import { defineProject } from 'vitest/config';
import { sourceConditions } from '../../vitest.shared';

// The AWS SDK ships extensionless ESM under the "module" condition, which Node cannot load:
// resolve third-party packages with Node's own conditions (source condition kept first), as the
// downloader's tests do (the s3 tests here reach S3 through it).
const conditions = ['@streams/source', 'node', 'import', 'default'];

export default defineProject({
  ...sourceConditions,
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['node'] } },
  test: {
    name: 'index',
    // Integration tests start servers, DuckDB and child processes: generous on a busy 2-core machine.
    testTimeout: 30_000,
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
  },
});
