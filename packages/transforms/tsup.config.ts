import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts', 'src/poolWorker.ts', 'src/poolTasks.ts'],
  format: 'esm',
  target: 'node20',
  platform: 'node',
  dts: { compilerOptions: { customConditions: [] } },
  sourcemap: true,
  clean: true,
});
