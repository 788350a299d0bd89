import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      'packages/*/vitest.config.ts',
      'apps/*/vitest.config.ts',
      { test: { name: 'repo', include: ['scripts/**/*.test.ts'] } },
    ],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
