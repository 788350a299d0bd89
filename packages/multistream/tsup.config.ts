import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts', 'src/tfdata.ts', 'src/sequenceTasks.ts'],
  format: 'esm',
  target: 'node20',
  platform: 'node',
  dts: { compilerOptions: { customConditions: [] } },
  sourcemap: true,
  clean: true,
});
