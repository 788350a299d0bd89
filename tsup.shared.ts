import { defineConfig, type Options } from 'tsup';

/**
 * The build every package shares: ESM for Node 20, declarations (resolved without the
 * `@streams/source` condition, so they point at built code) and source maps. `options` adds a
 * package's own entries, declaration banner or hooks.
 */
export function packageBuild(options: Options = {}) {
  return defineConfig({
    entry: ['src/index.ts'],
    format: 'esm',
    target: 'node20',
    platform: 'node',
    sourcemap: true,
    clean: true,
    ...options,
    dts: {
      compilerOptions: { customConditions: [] },
      ...(typeof options.dts === 'object' ? options.dts : {}),
    },
  });
}
