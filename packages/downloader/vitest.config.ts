import { defineProject } from 'vitest/config';
import { sourceConditions } from '../../vitest.shared';

// The AWS SDK ships extensionless ESM under the "module" condition, which Node cannot load:
// resolve third-party packages with Node's own conditions (source condition kept first).
const conditions = ['@streams/source', 'node', 'import', 'default'];

export default defineProject({
  ...sourceConditions,
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['node'] } },
  test: {
    name: 'downloader',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
  },
});
