import { defineConfig } from 'vitest/config';
import { streamsProject } from './vitest.shared';

export default defineConfig({
  test: {
    projects: [
      'packages/*/vitest.config.ts',
      'apps/*/vitest.config.ts',
      streamsProject('repo', {
        include: ['scripts/**/*.test.ts'],
        testTimeout: 120_000,
        hookTimeout: 600_000,
        // The pack and release tests share one build through turbo's cache: one at a time.
        fileParallelism: false,
      }),
    ],
  },
});
