import { defineProject, type UserWorkspaceConfig } from 'vitest/config';

/**
 * Resolve conditions for every test project: `@streams/source` first, so workspace packages load
 * from their TypeScript sources and tests need no build; then Node's own conditions, because the
 * AWS SDK ships extensionless ESM under the bundler-only `module` condition that Node cannot load.
 */
const conditions = ['@streams/source', 'node', 'import', 'default'];

export const sourceConditions = {
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['node'] } },
};

/**
 * The vitest project of one package: its tests next to the code (`src/**\/*.test.ts`) and its
 * integration tests (`test/**\/*.test.ts`), with time limits sized for a busy 2-core CI machine
 * (performance is measured by benchmarks, never by these limits).
 */
export function streamsProject(name: string, test: UserWorkspaceConfig['test'] = {}) {
  return defineProject({
    ...sourceConditions,
    test: {
      name,
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      testTimeout: 30_000,
      hookTimeout: 60_000,
      ...test,
    },
  });
}
