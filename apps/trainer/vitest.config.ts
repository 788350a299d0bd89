import { defineProject } from 'vitest/config';
import { sourceConditions } from '../../vitest.shared';

// The AWS SDK ships extensionless ESM under the "module" condition, which Node cannot load:
// resolve third-party packages with Node's own conditions (source condition kept first), as the
// downloader's tests do (remote `streams cat` tests reach s3 through it).
const conditions = ['@streams/source', 'node', 'import', 'default'];

export default defineProject({
  ...sourceConditions,
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['node'] } },
  test: {
    name: 'trainer',
    // Some tests start the CLI as a child process or s3rver: generous on a busy 2-core machine.
    testTimeout: 30_000,
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
  },
});
