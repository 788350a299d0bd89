import { defineProject } from 'vitest/config';
import { sourceConditions } from '../../vitest.shared';

export default defineProject({
  ...sourceConditions,
  test: {
    name: 'downloader',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
  },
});
