import { defineConfig } from 'vitest/config';
import { sourceConditions } from './vitest.shared';

export default defineConfig({
  test: {
    projects: [
      'packages/*/vitest.config.ts',
      'apps/*/vitest.config.ts',
      {
        ...sourceConditions,
        test: {
          name: 'repo',
          include: ['scripts/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
});
