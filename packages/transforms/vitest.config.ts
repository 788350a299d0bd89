import { defineProject } from 'vitest/config';
import { sourceConditions } from '../../vitest.shared';

export default defineProject({
  ...sourceConditions,
  test: {
    name: 'transforms',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Tests spawn ffmpeg, worker threads and a child node: generous limits for a loaded CI machine.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
