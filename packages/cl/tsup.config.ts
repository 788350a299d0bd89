import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: 'esm',
  target: 'node20',
  platform: 'node',
  // tfjs-core's declarations use the global `Long` of @types/long (a dependency here); the
  // bundler drops src/index.ts's reference, so the declarations get it back as a banner.
  dts: { compilerOptions: { customConditions: [] }, banner: '/// <reference types="long" />' },
  sourcemap: true,
  clean: true,
});
